"""A shaped reward for Crafter-WoodPickaxe-v1, stage by stage: wood (3), a table, then the pickaxe at the table."""

import torch


def compute_reward(
    nearest_distance: torch.Tensor,
    facing_target: torch.Tensor,
    action: torch.Tensor,
    inventory: torch.Tensor,
    unlocked: torch.Tensor,
    lava_adjacent: torch.Tensor,
    died: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    wood = inventory[:, 1]
    has_table = (nearest_distance[:, 6] <= 1.0).float()  # a table next to the player (make needs it nearby)
    need_wood = (wood < 3.0).float() * (1.0 - has_table) + (wood < 1.0).float() * has_table
    to_tree = -0.01 * nearest_distance[:, 0] * need_wood
    hit_tree = 0.1 * facing_target[:, 0] * (action == 5).float() * need_wood
    got_wood = 0.3 * unlocked[:, 6] + 0.05 * (action == 5).float() * facing_target[:, 0] * (wood < 9.0).float()
    place_table = 0.5 * unlocked[:, 20]
    try_table = 0.05 * (action == 8).float() * (wood >= 2.0).float() * (1.0 - has_table)
    try_pickaxe = 0.05 * (action == 11).float() * has_table * (wood >= 1.0).float()
    pickaxe = 2.0 * unlocked[:, 15]
    danger = -0.1 * lava_adjacent - 1.0 * died
    total = to_tree + hit_tree + got_wood + place_table + try_table + try_pickaxe + pickaxe + danger
    return total, {
        "to_tree": to_tree,
        "hit_tree": hit_tree,
        "wood": got_wood,
        "table": place_table + try_table,
        "pickaxe": pickaxe + try_pickaxe,
        "danger": danger,
    }
