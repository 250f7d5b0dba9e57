"""A categorical action distribution for rsl-rl's models: discrete actions (games) on the batched backends.

rsl-rl-lib (5.x) ships Gaussian and Beta distributions only. Its ``MLPModel``
takes any :class:`rsl_rl.modules.distribution.Distribution` through
``distribution_cfg={"class_name": ...}``, and its ``PPO`` only calls that
interface (sample, log-prob, entropy, parameters, KL), so discrete actions
need nothing but this class: the MLP outputs one logit per action, an action is
one action id stored as a float in an ``(N, 1)`` tensor (rsl-rl's action
storage), and the deterministic action is the argmax of the logits. The PPO
itself is rsl-rl's, unchanged.
"""

from __future__ import annotations

import torch
from rsl_rl.modules.distribution import Distribution
from torch import nn
from torch.distributions import Categorical


class CategoricalDistribution(Distribution):
    """One of ``n_actions`` actions per env; the model's output is the action id as a float, shape ``(N, 1)``."""

    def __init__(self, output_dim: int, n_actions: int) -> None:
        if output_dim != 1:
            raise ValueError(f"a categorical policy outputs one action id per env (output_dim 1), got {output_dim}")
        if n_actions < 2:
            raise ValueError(f"a categorical policy needs at least 2 actions, got {n_actions}")
        super().__init__(output_dim)
        self.n_actions = n_actions
        self._distribution: Categorical | None = None

    def _dist(self) -> Categorical:
        if self._distribution is None:
            raise RuntimeError("the categorical distribution is used before update() was called")
        return self._distribution

    def update(self, mlp_output: torch.Tensor) -> None:
        self._distribution = Categorical(logits=mlp_output, validate_args=False)

    def sample(self) -> torch.Tensor:
        return self._dist().sample().unsqueeze(-1).to(torch.float32)

    def deterministic_output(self, mlp_output: torch.Tensor) -> torch.Tensor:
        return mlp_output.argmax(dim=-1, keepdim=True).to(torch.float32)

    def as_deterministic_output_module(self) -> nn.Module:
        return ArgmaxOutput()

    @property
    def input_dim(self) -> int:
        """The MLP's output size: one logit per action."""
        return self.n_actions

    @property
    def mean(self) -> torch.Tensor:
        """The expected action id (for logs only; the deterministic action is the argmax)."""
        probs = self._dist().probs
        ids = torch.arange(self.n_actions, device=probs.device, dtype=probs.dtype)
        return (probs * ids).sum(dim=-1, keepdim=True)

    @property
    def std(self) -> torch.Tensor:
        """The standard deviation of the action id (for logs only)."""
        probs = self._dist().probs
        ids = torch.arange(self.n_actions, device=probs.device, dtype=probs.dtype)
        var = (probs * ids.square()).sum(dim=-1, keepdim=True) - self.mean.square()
        return var.clamp_min(0.0).sqrt()

    @property
    def entropy(self) -> torch.Tensor:
        return self._dist().entropy()

    @property
    def params(self) -> tuple[torch.Tensor, ...]:
        return (self._dist().logits,)

    def log_prob(self, outputs: torch.Tensor) -> torch.Tensor:
        return self._dist().log_prob(outputs.squeeze(-1).long())

    def kl_divergence(self, old_params: tuple[torch.Tensor, ...], new_params: tuple[torch.Tensor, ...]) -> torch.Tensor:
        old, new = Categorical(logits=old_params[0]), Categorical(logits=new_params[0])
        return torch.distributions.kl_divergence(old, new)


class ArgmaxOutput(nn.Module):
    """The deterministic action of a categorical policy: the argmax of the logits, as a float ``(N, 1)``."""

    def forward(self, mlp_output: torch.Tensor) -> torch.Tensor:
        return mlp_output.argmax(dim=-1, keepdim=True).to(torch.float32)
