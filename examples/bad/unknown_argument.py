"""Bad: `speed` and `torques` are not state variables of HalfCheetah-Run-v1 (x_velocity, action, ...)."""

import torch


def compute_reward(speed: torch.Tensor, torques: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    ctrl = -0.1 * torch.square(torques).sum(dim=-1)
    return speed + ctrl, {"forward": speed, "ctrl": ctrl}
