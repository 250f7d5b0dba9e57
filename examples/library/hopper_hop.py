"""Hopper hopping forward without falling."""

import torch

FAMILY = "locomotion"
TASK = "Hopper-Hop-v1"
ABOUT = "hop forward without falling: speed while healthy, an alive bonus, an upright torso, a small effort cost"


def compute_reward(
    x_velocity: torch.Tensor,
    torso_angle: torch.Tensor,
    is_healthy: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = x_velocity * is_healthy  # (N,): no credit for the step it falls
    alive = 1.0 * is_healthy  # (N,) 0/1
    upright = 0.5 * torch.exp(-torch.square(torso_angle) / 0.05)  # (N,): the episode ends past |0.2| rad
    effort = -1e-3 * torch.square(action).sum(dim=-1)  # (N, 3) -> (N,)
    total = forward + alive + upright + effort
    return total, {"forward": forward, "alive": alive, "upright": upright, "effort": effort}
