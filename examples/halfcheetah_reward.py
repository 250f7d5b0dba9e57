"""A correct reward program for HalfCheetah-Run-v1.

It passes the critic: `eureka-kit check HalfCheetah-Run-v1 examples/halfcheetah_reward.py`.

Forward speed, a small bonus for staying upright and a control cost, in the
temperature style Eureka's programs use (each shaped term through torch.exp).
"""

import torch


def _upright(torso_angle: torch.Tensor, temperature: float) -> torch.Tensor:
    """1.0 when the torso is level, decaying towards 0 as it pitches (flipping over scores ~0)."""
    return torch.exp(-torch.square(torso_angle) / temperature)


def compute_reward(
    x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = x_velocity
    upright = 0.1 * _upright(torso_angle, temperature=0.5)
    ctrl = -0.1 * torch.square(action).sum(dim=-1)
    total = forward + upright + ctrl
    return total, {"forward": forward, "upright": upright, "ctrl": ctrl}
