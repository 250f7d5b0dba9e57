"""Bad: clamps the action tensor in place, changing the trainer's copy of the state."""

import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    action.clamp_(-0.5, 0.5)
    ctrl = -0.1 * torch.square(action).sum(dim=-1)
    return x_velocity + ctrl, {"forward": x_velocity, "ctrl": ctrl}
