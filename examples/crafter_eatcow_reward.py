"""A shaped reward for Crafter-EatCow-v1: walk towards the nearest cow, face it and hit it until it is eaten."""

import torch


def compute_reward(
    nearest_distance: torch.Tensor,
    facing_target: torch.Tensor,
    action: torch.Tensor,
    unlocked: torch.Tensor,
    lava_adjacent: torch.Tensor,
    died: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    cow_distance = nearest_distance[:, 8]
    approach = -0.01 * cow_distance
    facing_cow = facing_target[:, 8]
    hit_cow = 0.1 * facing_cow * (action == 5).float()
    eaten = 1.0 * unlocked[:, 9]
    danger = -0.1 * lava_adjacent - 1.0 * died
    total = approach + 0.02 * facing_cow + hit_cow + eaten + danger
    return total, {"approach": approach, "hit_cow": hit_cow, "eaten": eaten, "danger": danger}
