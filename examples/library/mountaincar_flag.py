"""MountainCarContinuous: build momentum, then reach the flag."""

import torch

FAMILY = "classic"
TASK = "MountainCar-Flag-v1"
ABOUT = "drive an underpowered car up a hill: pay for speed (momentum) and height, a large bonus at the flag"


def compute_reward(
    position: torch.Tensor, velocity: torch.Tensor, goal_reached: torch.Tensor, action: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    momentum = 10.0 * torch.abs(velocity)  # (N,): swinging back and forth builds speed
    height = 0.1 * torch.sin(3.0 * position)  # (N,): the track's height profile
    flag = 100.0 * goal_reached  # (N,) 0/1
    effort = -0.05 * torch.square(action).sum(dim=-1)  # (N, 1) -> (N,)
    total = momentum + height + flag + effort
    return total, {"momentum": momentum, "height": height, "flag": flag, "effort": effort}
