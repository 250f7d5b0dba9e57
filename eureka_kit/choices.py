"""Names of the run's choices that the configuration, the CLI and the stages share (the ground floor).

They live here, importing nothing of the package, so that :mod:`eureka_kit.config` stays low in the import graph
while the stages that implement each choice (:mod:`eureka_kit.preferences` for the rankers) import it too.
"""

from __future__ import annotations

from typing import Literal, get_args

RankerKind = Literal["none", "human", "synthetic", "vlm"]
"""Who ranks a run's generations (``RunConfig.ranker``, ``--ranker``): nobody (fitness-driven, Eureka), a person
on the local ranking page, the synthetic ranker, or a vision-language model (:mod:`eureka_kit.preferences.vlm`)."""
RANKER_KINDS: tuple[str, ...] = get_args(RankerKind)
