"""A shaped reward for Crafter-Wood-v1: walk towards the nearest tree, face it and hit it; keep away from lava."""

import torch


def compute_reward(
    nearest_distance: torch.Tensor,
    facing_target: torch.Tensor,
    action: torch.Tensor,
    inventory: torch.Tensor,
    lava_adjacent: torch.Tensor,
    died: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    tree_distance = nearest_distance[:, 0]
    approach = -0.01 * tree_distance
    facing_tree = facing_target[:, 0]
    hit_tree = 0.1 * facing_tree * (action == 5).float()
    wood = 1.0 * inventory[:, 1].clamp(max=1.0)
    danger = -0.1 * lava_adjacent - 1.0 * died
    total = approach + 0.02 * facing_tree + hit_tree + wood + danger
    return total, {"approach": approach, "hit_tree": hit_tree, "wood": wood, "danger": danger}
