"""A shaped reward for LavaCrossing-Grid-v1: approach the goal, keep away from lava, never step into it."""

import torch


def compute_reward(
    distances: torch.Tensor, facing: torch.Tensor, in_lava: torch.Tensor, visits: torch.Tensor, success: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    approach = -0.01 * distances[:, 0]
    lava_ahead = -0.02 * facing[:, 1]
    death = -5.0 * in_lava
    novelty = 0.01 / visits.clamp(min=1.0)
    goal = 10.0 * success
    total = approach + lava_ahead + death + novelty + goal
    return total, {"approach": approach, "lava_ahead": lava_ahead, "death": death, "novelty": novelty, "goal": goal}
