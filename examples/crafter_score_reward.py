"""A shaped reward for Crafter-Survive-v2 (Crafter's score): every new achievement, plus keeping the player alive."""

import torch


def compute_reward(
    unlocked: torch.Tensor,
    vitals: torch.Tensor,
    vitals_change: torch.Tensor,
    nearest_distance: torch.Tensor,
    facing_target: torch.Tensor,
    inventory: torch.Tensor,
    action: torch.Tensor,
    lava_adjacent: torch.Tensor,
    died: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    achieve = 1.0 * unlocked.sum(dim=1)
    no_wood = (inventory[:, 1] < 1.0).float()
    explore = -0.005 * nearest_distance[:, 0] * no_wood + 0.05 * facing_target[:, 0] * (action == 5).float()
    restore = 0.05 * vitals_change[:, 1:4].clamp(min=0.0).sum(dim=1)
    needs = -0.01 * (vitals[:, 1:4] < 3.0).float().sum(dim=1)
    danger = -0.2 * lava_adjacent - 1.0 * died
    total = achieve + explore + restore + needs + danger
    return total, {"achieve": achieve, "explore": explore, "restore": restore, "needs": needs, "danger": danger}
