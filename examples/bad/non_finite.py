"""Bad: log of the forward velocity is NaN whenever the cheetah moves backwards."""

import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = torch.log(x_velocity)
    ctrl = -0.1 * torch.square(action).sum(dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
