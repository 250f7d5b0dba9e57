"""Writes halfcheetah_loop.jsonl: stubbed LLM responses (HalfCheetah) for the loop's end-to-end tests.

Generation 0 (key gen_000/initial): a good program, one that fails the critic (unknown
argument), one that raises at training time. Generation 1 (key gen_001/reflection): a good
program, one that returns NaN during training, and a better-shaped good program.
The failing-at-training programs count their calls so the critic's smoke test passes and
training hits the fault. Regenerate: python tests/data/make_loop_replay.py
"""

import json
from pathlib import Path

GOOD = """Reward forward velocity, penalize torque.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    forward = x_velocity
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
```
"""

BAD_ARG = """```python
import torch


def compute_reward(cheetah_speed: torch.Tensor, action: torch.Tensor):
    r = cheetah_speed - 0.1 * action[:, 0] ** 2
    return r, {"speed": cheetah_speed}
```
"""

RAISES = """```python
import torch

_calls = [0]


def compute_reward(torso_height: torch.Tensor, action: torch.Tensor):
    _calls[0] += 1
    if _calls[0] > 60:
        raise RuntimeError("reward state buffer overflow")
    height = torso_height
    return height, {"height": height}
```
"""

NAN = """```python
import torch

_calls = [0]


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    _calls[0] += 1
    scale = torch.tensor(float("nan")) if _calls[0] > 60 else torch.tensor(1.0)
    speed = scale * torch.abs(x_velocity)
    return speed, {"speed": speed}
```
"""

GOOD2 = """Scale speed with a saturating transform and keep the torso level.

```python
import torch


def _level(angle: torch.Tensor) -> torch.Tensor:
    return torch.exp(-(angle**2) / 0.5)


def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor):
    speed = 2.0 * x_velocity
    level = 0.2 * _level(torso_angle)
    return speed + level, {"speed": speed, "level": level}
```
"""

records = [
    {"key": "gen_000/initial", "text": GOOD},
    {"key": "gen_000/initial", "text": BAD_ARG},
    {"key": "gen_000/initial", "text": RAISES},
    {"key": "gen_001/reflection", "text": GOOD2},
    {"key": "gen_001/reflection", "text": NAN},
    {"key": "gen_001/reflection", "text": GOOD},
]
out = Path(__file__).with_name("halfcheetah_loop.jsonl")
out.write_text("".join(json.dumps(r) + "\n" for r in records))
print(f"wrote {out}")
