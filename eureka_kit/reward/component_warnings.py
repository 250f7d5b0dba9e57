"""The critic's warnings about the components on real states: total vs their sum, one dominating the others.

Only warnings: the program works, but its components would mislead reward
reflection (a total that is not their sum: how many states differ, by how much,
and, when it is that simple, which component the total leaves out or by what
factor it scales the sum) or barely matter (one component above
:data:`DOMINANCE_SHARE` of the magnitude). The static side of the same mistake,
a component the total is not made of, is :mod:`eureka_kit.reward.term_flow`'s.
"""

from __future__ import annotations

import math

import torch

from eureka_kit.reward.check_report import CheckIssue

SUM_RTOL = 1e-3
"""Total and sum of components are 'close' when they differ by at most this, relative to their magnitude."""
SUM_ATOL = 1e-5
DOMINANCE_SHARE = 0.9
"""Warn when one component is more than this share of the summed absolute magnitude of all components."""


def component_warnings(total: torch.Tensor, parts: dict[str, torch.Tensor]) -> list[CheckIssue]:
    """Total vs sum of components and a dominating component, on the batch of all real states."""
    issues: list[CheckIssue] = []
    if (
        not parts
        or not bool(torch.isfinite(total).all())
        or not all(bool(torch.isfinite(v).all()) for v in parts.values())
    ):
        return issues
    t = total.double()
    s = torch.stack([v.double() for v in parts.values()]).sum(dim=0)
    diff = (t - s).abs()
    tol = SUM_RTOL * torch.maximum(t.abs(), s.abs()) + SUM_ATOL
    off = diff > tol
    if bool(off.any()):
        i = int(torch.argmax(diff - tol))
        msg = (
            f"on real states the total is not the sum of the components: they differ on {int(off.sum())} of "
            f"{len(t)} states (e.g. total {t[i].item():.4g} vs sum {s[i].item():.4g}; largest difference "
            f"{diff.max().item():.4g}; tolerance {SUM_RTOL:g} relative + {SUM_ATOL:g}){_why(t, s, parts)}. Make the "
            f"total the sum of the components (put any scaling or transformation inside a component), so each "
            f"component's values show its real share of the reward."
        )
        issues.append(CheckIssue("warning", "total_not_sum", msg))
    if len(parts) >= 2:
        mags = {k: float(v.double().abs().mean()) for k, v in parts.items()}
        whole = sum(mags.values())
        if whole > 0 and math.isfinite(whole):
            top = max(mags, key=lambda k: mags[k])
            share = mags[top] / whole
            if share > DOMINANCE_SHARE:
                others = ", ".join(f"{k} {100 * m / whole:.1f}%" for k, m in mags.items() if k != top)
                msg = (
                    f"on real states component {top!r} makes up {100 * share:.1f}% of the summed absolute magnitude "
                    f"of all components (others: {others}), so the others barely affect learning. Rescale the "
                    f"components if they matter, or drop them."
                )
                issues.append(CheckIssue("warning", "dominant_component", msg))
    return issues


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(((a - b).abs() <= SUM_RTOL * torch.maximum(a.abs(), b.abs()) + SUM_ATOL).all())


def _why(t: torch.Tensor, s: torch.Tensor, parts: dict[str, torch.Tensor]) -> str:
    """What the difference is, when it is simple: a component left out of the total, or a factor on the sum."""
    if len(parts) >= 2:
        for k, v in parts.items():
            if bool(v.double().abs().max() > SUM_ATOL) and _close(t, s - v.double()):
                return f"; the total is the sum without component {k!r}"
    big = s.abs() > SUM_ATOL
    if bool(big.any()):
        factor = float((t[big] / s[big]).median())
        if abs(factor - 1.0) > SUM_RTOL and _close(t, factor * s):
            return f"; the total is {factor:.4g} times the sum"
    return ""
