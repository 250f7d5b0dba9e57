"""A shaped reward for Crafter-StonePickaxe-v1, one tech-tree step at a time, each unlock rewarded once.

Crafter's rules (its data.yaml): wood from trees; a table uses 2 wood; a wood pickaxe uses 1 wood near a table;
stone needs the wood pickaxe; a stone pickaxe uses 1 wood and 1 stone near a table. The wood kept in hand covers
a second table when the first one is out of sight (8 cells). Approaching the current target earns a small
positive bonus (not a per-step distance penalty, which over 1,500-step episodes would make dying early pay).
"""

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
    wood, stone = inventory[:, 1], inventory[:, 2]
    has_wood_pickaxe = (inventory[:, 6] >= 1.0).float()
    near_table = (nearest_distance[:, 6] <= 1.0).float()  # making needs a table in the 3x3 area around the player
    table_seen = (nearest_distance[:, 6] < 17.0).float()  # a table within 8 cells: walk back to it
    free_front = 1.0 - facing_target.sum(dim=1).clamp(max=1.0)  # facing no tree/stone/water/...: room to place
    doing = (action == 5).float()

    # Wood still to gather: 1 for the stone pickaxe, 1 for the wood pickaxe if missing,
    # 2 for a table if none is in sight.
    wood_needed = 1.0 + (1.0 - has_wood_pickaxe) + 2.0 * (1.0 - table_seen)
    need_wood = (wood < wood_needed).float()
    need_stone = has_wood_pickaxe * (stone < 1.0).float()
    ready = has_wood_pickaxe * (stone >= 1.0).float() * (wood >= 1.0).float()  # all in hand: back to a table

    def approach(column: int, gate: torch.Tensor) -> torch.Tensor:
        return 0.02 * (1.0 - nearest_distance[:, column] / 17.0) * gate

    seek = approach(0, need_wood) + approach(2, need_stone * (1.0 - need_wood)) + approach(6, ready)
    wood_r = 0.1 * facing_target[:, 0] * doing * need_wood + 0.3 * unlocked[:, 6]
    table = 0.5 * unlocked[:, 20] + 0.05 * (action == 8).float() * (1.0 - table_seen) * free_front * (1.0 - need_wood)
    wood_pickaxe = 1.0 * unlocked[:, 15] + 0.05 * (action == 11).float() * near_table * (wood >= 1.0).float() * (
        1.0 - has_wood_pickaxe
    )
    stone_r = 0.1 * facing_target[:, 2] * doing * need_stone + 1.0 * unlocked[:, 5]
    stone_pickaxe = 3.0 * unlocked[:, 13] + 0.05 * (action == 12).float() * near_table * ready
    danger = -0.1 * lava_adjacent - 1.0 * died
    total = seek + wood_r + table + wood_pickaxe + stone_r + stone_pickaxe + danger
    return total, {
        "seek": seek,
        "wood": wood_r,
        "table": table,
        "wood_pickaxe": wood_pickaxe,
        "stone": stone_r,
        "stone_pickaxe": stone_pickaxe,
        "danger": danger,
    }
