"""The critic's warnings about the components on real states: total vs their sum, one dominating the others.

Only warnings: the program works, but its components would mislead reward
reflection (a total that is not their sum) or barely matter (one component
above :data:`DOMINANCE_SHARE` of the magnitude).
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
    if bool((diff > tol).any()):
        i = int(torch.argmax(diff - tol))
        msg = (
            f"on real states the total is not the sum of the components (e.g. total {t[i].item():.4g} vs sum "
            f"{s[i].item():.4g}; largest difference {diff.max().item():.4g}). Make the total the sum of the "
            f"components (put any scaling or transformation inside a component), so each component's values show "
            f"its real share of the reward."
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
