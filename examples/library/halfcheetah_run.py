"""HalfCheetah running forward: speed, a level torso and a small effort cost."""

import torch

FAMILY = "locomotion"
TASK = "HalfCheetah-Run-v1"
ABOUT = "run forward fast on a planar runner that cannot fall: speed, a level torso, a small effort cost"


def compute_reward(
    x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = x_velocity  # (N,) m/s, used as it is
    level = 0.2 * torch.exp(-torch.square(torso_angle) / 0.25)  # (N,): 0.2 level, ~0 flipped over
    effort = -0.05 * torch.square(action).sum(dim=-1)  # (N, 6) -> (N,)
    return forward + level + effort, {"forward": forward, "level": level, "effort": effort}
