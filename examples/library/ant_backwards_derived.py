"""An ant (state derived from the MuJoCo model) walking backwards with its torso level."""

import torch

FAMILY = "locomotion"
TASK = "gym:Ant-v5"
ABOUT = "walk backwards (-x) keeping the torso level: derived root variables, a level bonus from the up-axis"


def compute_reward(
    root_lin_vel_x: torch.Tensor,
    root_lin_vel_y: torch.Tensor,
    root_up_z: torch.Tensor,
    root_height: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    backwards = -root_lin_vel_x  # (N,): moving towards -x pays
    level = 0.5 * torch.exp(-torch.square(1.0 - root_up_z) / 0.01)  # (N,): up-axis z near 1 is level
    drift = -0.2 * torch.abs(root_lin_vel_y)  # (N,)
    standing = 0.3 * ((root_height > 0.3) & (root_height < 1.0)).float()  # (N,)
    effort = -0.05 * torch.square(action).sum(dim=-1)  # (N, 8) -> (N,)
    total = backwards + level + drift + standing + effort
    return total, {"backwards": backwards, "level": level, "drift": drift, "standing": standing, "effort": effort}
