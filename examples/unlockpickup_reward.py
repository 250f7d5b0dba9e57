"""A shaped reward for UnlockPickup-Grid-v1: key, then door, then drop the key and go to the box (stage by stage)."""

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
    # the current target: the key until it is carried, then the door until it is open, then the box
    target = torch.where(door_open > 0, distances[:, 2], torch.where(has_key > 0, distances[:, 1], distances[:, 0]))
    stage = torch.maximum(has_key, door_open) + door_open + past_door
    progress = -0.01 * (3.0 - stage) - 0.002 * target
    key_in_hand = -0.005 * door_open * has_key  # the key must be dropped to pick up the box
    facing_box = 0.005 * door_open * facing[:, 2]
    goal = 10.0 * success
    total = progress + key_in_hand + facing_box + goal
    return total, {"progress": progress, "key_in_hand": key_in_hand, "facing_box": facing_box, "goal": goal}
