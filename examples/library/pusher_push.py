"""Pusher: reach the object, then push it to the goal."""

import torch

FAMILY = "manipulation"
TASK = "Pusher-Push-v1"
ABOUT = "push an object to a goal with an arm: reach the object first, then close the object-goal distance"


def compute_reward(
    fingertip_to_object_distance: torch.Tensor,
    object_to_goal_distance: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    reach = -0.5 * fingertip_to_object_distance  # (N,) m
    push = -1.0 * object_to_goal_distance  # (N,) m
    near = 1.0 * torch.exp(-torch.square(object_to_goal_distance) / 0.01)  # (N,): a bonus close to the goal
    effort = -0.1 * torch.square(action).sum(dim=-1)  # (N, 7) -> (N,)
    total = reach + push + near + effort
    return total, {"reach": reach, "push": push, "near": near, "effort": effort}
