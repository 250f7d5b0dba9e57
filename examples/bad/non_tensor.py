"""Bad: converts the reward to numpy, so the trainer gets no torch tensor."""

import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[object, dict[str, object]]:
    forward = x_velocity.numpy()
    ctrl = -0.1 * torch.square(action).sum(dim=-1).numpy()
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
