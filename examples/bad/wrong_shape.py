"""Bad: the control cost is summed over the whole batch, so it is a scalar instead of shape (N,)."""

import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = x_velocity
    ctrl = -0.1 * torch.square(action).sum()
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
