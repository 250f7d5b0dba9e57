"""Walker2d walking forward, alternating feet."""

import torch

FAMILY = "locomotion"
TASK = "Walker2d-Walk-v1"
ABOUT = "walk forward on two legs: capped speed, alive bonus, upright torso, one foot on the floor at a time"


def compute_reward(
    x_velocity: torch.Tensor,
    torso_angle: torch.Tensor,
    feet_contact_force: torch.Tensor,
    is_healthy: torch.Tensor,
    action: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = torch.clamp(x_velocity, max=2.0) * is_healthy  # (N,): walking, not lunging
    alive = 1.0 * is_healthy  # (N,)
    upright = 0.3 * torch.exp(-torch.square(torso_angle) / 0.1)  # (N,)
    touching = (feet_contact_force > 1.0).float()  # (N, 2) 0/1 per foot
    single = 0.2 * (touching.sum(dim=-1) == 1.0).float()  # (N,): one foot down, the other swinging
    effort = -1e-3 * torch.square(action).sum(dim=-1)  # (N, 6) -> (N,)
    total = forward + alive + upright + single + effort
    return total, {"forward": forward, "alive": alive, "upright": upright, "single_support": single, "effort": effort}
