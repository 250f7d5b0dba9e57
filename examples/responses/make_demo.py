"""Writes halfcheetah_demo.jsonl: the LLM answers of the offline demo.

These answers are hand-written examples in a model's style (prose + one code block),
not responses recorded from a model. The `replay` backend plays them back so the demo
runs with no model and no network; training and evaluation of the programs are real.
The third initial answer uses a state variable the task does not have (`forward_speed`),
so the critic rejects it and the repair answer fixes it.
Regenerate with `python examples/responses/make_demo.py`.
"""

import json
from pathlib import Path

INITIAL = [
    '''The cheetah should move forward quickly, so the main term is the forward velocity. A small control penalty keeps the torques smooth.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = 1.0 * x_velocity
    ctrl = -0.1 * torch.sum(action ** 2, dim=-1)
    total = forward + ctrl
    return total, {"forward": forward, "ctrl": ctrl}
```
''',
    '''I will reward speed with a saturating exponential transform and keep the torso level so the robot does not flip.

```python
import torch


def _level_bonus(angle: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.exp(-(angle ** 2) / temperature)


def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor):
    speed_temp = 2.0
    speed = 1.0 - torch.exp(-torch.clamp(x_velocity, min=0.0) / speed_temp)
    level = 0.3 * _level_bonus(torso_angle, temperature=0.5)
    ctrl = -0.05 * (action ** 2).sum(dim=-1)
    return speed + level + ctrl, {"speed": speed, "level": level, "ctrl": ctrl}
```
''',
    '''Reward forward progress of the body and penalize energy use.

```python
import torch


def compute_reward(forward_speed: torch.Tensor, action: torch.Tensor):
    progress = forward_speed
    energy = -0.1 * action.pow(2).sum(-1)
    return progress + energy, {"progress": progress, "energy": energy}
```
''',
]

REPAIR = [
    '''You are right, `forward_speed` is not a state variable; the forward velocity is `x_velocity`.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, joint_vel: torch.Tensor, action: torch.Tensor):
    progress = x_velocity
    energy = -0.1 * action.pow(2).sum(-1)
    smooth = -0.001 * joint_vel.pow(2).sum(-1)
    return progress + energy + smooth, {"progress": progress, "energy": energy, "smooth": smooth}
```
''',
]

REFLECTION = [
    '''The forward term dominates and grows along training, which is what we want; the control cost is small and stable. I will give forward velocity more weight and penalize flipping over.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor):
    forward = 1.5 * x_velocity
    flipped = (torch.abs(torso_angle) > 1.2).float()
    flip_penalty = -1.0 * flipped
    ctrl = -0.1 * torch.sum(action ** 2, dim=-1)
    return forward + flip_penalty + ctrl, {"forward": forward, "flip_penalty": flip_penalty, "ctrl": ctrl}
```
''',
    '''The control penalty barely changes, so I reduce it, and I add a small bonus for a moving back thigh to encourage a running gait.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, joint_vel: torch.Tensor, action: torch.Tensor):
    forward = x_velocity
    gait = 0.01 * torch.abs(joint_vel[:, 0])
    ctrl = -0.05 * torch.sum(action ** 2, dim=-1)
    total = forward + gait + ctrl
    return total, {"forward": forward, "gait": gait, "ctrl": ctrl}
```
''',
    '''Keep the proven structure and only rescale the forward term.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    forward = 2.0 * x_velocity
    ctrl = -0.1 * torch.sum(action ** 2, dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
```
''',
]


def main() -> None:
    lines = (
        [{"key": "initial", "text": t} for t in INITIAL]
        + [{"key": "repair", "text": t} for t in REPAIR]
        + [{"key": "reflection", "text": t} for t in REFLECTION]
    )
    out = Path(__file__).with_name("halfcheetah_demo.jsonl")
    out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    print(f"wrote {out} ({len(lines)} responses)")


if __name__ == "__main__":
    main()
