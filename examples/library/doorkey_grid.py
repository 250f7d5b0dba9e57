"""MiniGrid DoorKey: key, door, goal in order."""

import torch

FAMILY = "game"
TASK = "DoorKey-Grid-v1"
ABOUT = "a grid world with stages: get the key, open the door, reach the goal; distances per stage, no loitering"


def compute_reward(
    carrying: torch.Tensor,
    door_state: torch.Tensor,
    distances: torch.Tensor,
    visits: torch.Tensor,
    success: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    has_key = (carrying == 5).float()  # (N,) 0/1
    door_open = (door_state == 0).float()  # (N,) 0/1
    to_key = -0.01 * torch.select(distances, -1, 0) * (1.0 - has_key) * (1.0 - door_open)  # (N, 3) -> (N,)
    to_door = -0.01 * torch.select(distances, -1, 1) * has_key * (1.0 - door_open)  # (N,)
    to_goal = -0.01 * torch.select(distances, -1, 2) * door_open  # (N,)
    stages = 0.02 * (has_key + door_open)  # (N,)
    loiter = -0.005 * (visits > 3).float()  # (N,)
    goal = 10.0 * success  # (N,)
    total = to_key + to_door + to_goal + stages + loiter + goal
    return total, {
        "to_key": to_key,
        "to_door": to_door,
        "to_goal": to_goal,
        "stages": stages,
        "loiter": loiter,
        "goal": goal,
    }
