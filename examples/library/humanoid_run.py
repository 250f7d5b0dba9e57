"""Humanoid running forward without falling."""

import torch

FAMILY = "locomotion"
TASK = "Humanoid-Run-v1"
ABOUT = "run forward on two legs without falling: speed, a large alive bonus, head-up posture, small effort cost"


def compute_reward(
    x_velocity: torch.Tensor,
    torso_height: torch.Tensor,
    upright: torch.Tensor,
    is_healthy: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = 1.25 * x_velocity  # (N,)
    alive = 5.0 * is_healthy  # (N,): standing is hard for a humanoid; pay for every step it stays up
    posture = 0.5 * torch.clamp(upright, min=0.0) * torch.clamp((torso_height - 1.0) / 0.4, 0.0, 1.0)  # (N,)
    effort = -0.1 * torch.square(action).sum(dim=-1)  # (N, 17) -> (N,)
    total = forward + alive + posture + effort
    return total, {"forward": forward, "alive": alive, "posture": posture, "effort": effort}
