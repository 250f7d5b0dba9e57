"""A shaped reward for Crafter-Survive-v1: stay alive, keep food, drink and energy up, avoid lava and zombies."""

import torch


def compute_reward(
    vitals: torch.Tensor,
    vitals_change: torch.Tensor,
    nearest_distance: torch.Tensor,
    lava_adjacent: torch.Tensor,
    died: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    alive = 0.01 * (1.0 - died)
    low = (vitals[:, 1:4] < 3.0).float().sum(dim=1)
    needs = -0.01 * low
    restore = 0.1 * vitals_change[:, 1:4].clamp(min=0.0).sum(dim=1)
    health = 0.05 * vitals_change[:, 0]
    zombie_near = (nearest_distance[:, 9] <= 2.0).float()
    danger = -0.2 * lava_adjacent - 0.02 * zombie_near - 2.0 * died
    total = alive + needs + restore + health + danger
    return total, {"alive": alive, "needs": needs, "restore": restore, "health": health, "danger": danger}
