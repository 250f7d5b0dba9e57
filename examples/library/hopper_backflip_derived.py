"""A hopper (state derived from the MuJoCo model) doing a backflip: height, then pitch rate backwards."""

import torch

FAMILY = "locomotion"
TASK = "gym:Hopper-v5"
ABOUT = "a backflip: jump high, rotate backwards (pitch rate about y), land upright; derived body variables"


def compute_reward(
    torso_ang_vel: torch.Tensor,
    root_height: torch.Tensor,
    root_up_z: torch.Tensor,
    foot_contact_force: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    airborne = (foot_contact_force < 1.0).float()  # (N,) 0/1
    height = 0.5 * torch.clamp(root_height - 1.25, min=0.0) * airborne  # (N,): pay for leaving the floor
    spin = 0.3 * torch.clamp(-torch.select(torso_ang_vel, -1, 1), min=0.0) * airborne  # (N, 3) -> (N,) backwards
    landed = 0.5 * (1.0 - airborne) * torch.clamp(root_up_z, min=0.0)  # (N,): feet down, torso up
    effort = -1e-3 * torch.square(action).sum(dim=-1)  # (N, 3) -> (N,)
    total = height + spin + landed + effort
    return total, {"height": height, "spin": spin, "landed": landed, "effort": effort}
