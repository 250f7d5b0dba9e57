"""The run loop, one room: everything that runs a run, from the first prompt to ``summary.json``.

- :mod:`~eureka_kit.loop.core`: :class:`Loop`, :func:`start_run`, :func:`resume_run` (the generations, each
  candidate's stages, containment, resume);
- :mod:`~eureka_kit.loop.topup`: a generation's candidates through checking and training, fresh samples until
  ``--min-valid`` pass; :mod:`~eureka_kit.loop.glue`: successive halving's and pruning's wiring;
- the conversation with the model: :mod:`~eureka_kit.loop.few_shot` (examples in the first prompt),
  :mod:`~eureka_kit.loop.repair` (the critic's repair rounds), :mod:`~eureka_kit.loop.judge` (the LLM proposes a
  fitness expression), :mod:`~eureka_kit.loop.selection` (the elite and the next prompt);
- :mod:`~eureka_kit.loop.callbacks` (feedback, videos, rankings, report as callbacks),
  :mod:`~eureka_kit.loop.summary` (``summary.json``), :mod:`~eureka_kit.loop.run_setup` (run ids, the lock,
  the result).

Rendering the jinja2 templates is a ground-floor service (:mod:`eureka_kit.prompting`) that feedback and
preferences use too. The public API::

    from eureka_kit.loop import start_run, resume_run
"""

from __future__ import annotations

from eureka_kit.loop.core import EVAL_SEED, Loop, prepare_sandbox, resume_run, start_run
from eureka_kit.loop.run_setup import RunResult

__all__ = ["EVAL_SEED", "Loop", "RunResult", "prepare_sandbox", "resume_run", "start_run"]
