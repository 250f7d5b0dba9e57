"""A shaped reward for DoorKey-Grid-v1: go to the key, then to the door, then to the goal (stage by stage)."""

import torch


def compute_reward(
    carrying: torch.Tensor,
    door_state: torch.Tensor,
    distances: torch.Tensor,
    facing: torch.Tensor,
    past_door: torch.Tensor,
    success: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    has_key = (carrying == 5).float()
    door_open = (door_state == 0).float()
    # the current target: the key until it is carried, then the door until it is open, then the goal
    target = torch.where(door_open > 0, distances[:, 2], torch.where(has_key > 0, distances[:, 1], distances[:, 0]))
    stage = torch.maximum(has_key, door_open) + door_open + past_door
    progress = -0.01 * (3.0 - stage) - 0.002 * target
    facing_target = 0.005 * torch.where(
        door_open > 0, facing[:, 2], torch.where(has_key > 0, facing[:, 1], facing[:, 0])
    )
    goal = 10.0 * success
    total = progress + facing_target + goal
    return total, {"progress": progress, "facing_target": facing_target, "goal": goal}
