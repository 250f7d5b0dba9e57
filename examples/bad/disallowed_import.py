"""Bad: imports scipy, which reward programs may not use (only torch, math, numpy, typing)."""

import torch
from scipy.special import expit


def compute_reward(x_velocity: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = torch.as_tensor(expit(x_velocity.numpy()))
    return forward, {"forward": forward}
