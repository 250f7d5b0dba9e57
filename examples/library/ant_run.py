"""Ant running forward, torso up, feet not stamping."""

import torch

FAMILY = "locomotion"
TASK = "Ant-Run-v1"
ABOUT = "run forward on four legs: speed, alive bonus, torso up, no sideways drift, small effort and contact costs"


def compute_reward(
    x_velocity: torch.Tensor,
    y_velocity: torch.Tensor,
    upright: torch.Tensor,
    contact_forces: torch.Tensor,
    is_healthy: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = x_velocity  # (N,) m/s
    alive = 0.5 * is_healthy  # (N,) 0/1
    up = 0.2 * torch.clamp(upright, min=0.0)  # (N,) cosine of the torso's tilt
    drift = -0.1 * torch.abs(y_velocity)  # (N,)
    effort = -0.05 * torch.square(action).sum(dim=-1)  # (N, 8) -> (N,)
    stamping = -5e-4 * torch.square(torch.clamp(contact_forces, -1.0, 1.0)).sum(dim=(-2, -1))  # (N, 13, 6) -> (N,)
    total = forward + alive + up + drift + effort + stamping
    return total, {"forward": forward, "alive": alive, "up": up, "drift": drift, "effort": effort, "stamping": stamping}
