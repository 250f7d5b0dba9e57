"""A short, correct example reward program for a task, generated from its spec (the prompt's few-shot example).

Small models copy the shape habits of an example far better than they follow
rules (Text2Reward's few-shot idea). The prompt for task A shows the program
that :func:`example_program` writes for another task B
(:func:`pick_example_task`), so that it teaches the contract without handing
over A's answer. Being generated from B's state variables, it cannot go stale
when a task changes; tests run every task's example through the critic.

The program has at most three terms, each commented with its shapes:

* progress: the task's forward velocity (or minus its distance to the goal,
  or its first scalar variable), an (N,) value used as it is;
* alive: a 0/1 health flag when the task has one;
* effort: minus the squared action (or another vector variable) summed over
  its own trailing dimension, ``(N, k) -> (N,)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from eureka_kit.tasks.spec import StateVar, TaskSpec

_DISCRETE_UNITS = ("action id", "id")


def _scalar(spec: TaskSpec, name: str | None) -> StateVar | None:
    if name is None or name not in spec.state_names:
        return None
    var = spec.var(name)
    return var if var.shape == () else None


def _progress(spec: TaskSpec) -> tuple[StateVar, str, str] | None:
    """(variable, term name, expression) of the progress term."""
    a = spec.analysis
    forward = _scalar(spec, a.forward_velocity if a else None) or _scalar(spec, "x_velocity")
    if forward is not None:
        return forward, "forward", f"1.0 * {forward.name}"
    distance = _scalar(spec, a.distance if a else None)
    if distance is not None:
        return distance, "closer", f"-1.0 * {distance.name}"
    for v in spec.state:
        if v.shape == () and v.name != "action" and "bool" not in v.unit:
            return v, "progress", f"1.0 * {v.name}"
    return None


def has_progress(spec: TaskSpec) -> bool:
    """The task has a forward velocity or a distance to the goal: its example reads naturally."""
    found = _progress(spec)
    return found is not None and found[1] != "progress"


def _effort(spec: TaskSpec) -> StateVar | None:
    """A vector variable to penalize: the action when it is continuous, else the first vector state variable."""
    action = spec.var("action")
    if action.unit not in _DISCRETE_UNITS and action.shape:
        return action
    return next((v for v in spec.state if len(v.shape) == 1 and v.name != "action" and "bool" not in v.unit), None)


def example_program(spec: TaskSpec) -> str:
    """A correct reward program for ``spec``: progress (+ alive) (+ effort), every line commented with its shapes."""
    terms: list[tuple[str, str, str]] = []  # (name, expression, shape comment)
    args: list[StateVar] = []
    progress = _progress(spec)
    if progress is not None:
        var, name, expr = progress
        args.append(var)
        terms.append((name, expr, "(N,): already one value per env, used as it is"))
    if "is_healthy" in spec.state_names and spec.var("is_healthy").shape == ():
        args.append(spec.var("is_healthy"))
        terms.append(("alive", "0.5 * is_healthy", "(N,): 1.0 while healthy"))
    effort = _effort(spec)
    if effort is not None:
        args.append(effort)
        k = effort.shape[0]
        expr = f"-0.05 * torch.square({effort.name}).sum(dim=-1)"
        values = f"the {k} values" if k != 1 else "the single value"
        terms.append(("effort", expr, f"(N, {k}) -> (N,): sums {values} of each env, never over N"))
    if not terms:  # a task with no scalar and no vector variable: the action alone
        action = spec.var("action")
        args.append(action)
        terms.append(("effort", "-0.05 * torch.square(action.float())", "(N,): one value per env"))
    return _render(args, terms)


def _render(args: Sequence[StateVar], terms: Sequence[tuple[str, str, str]]) -> str:
    params = ", ".join(f"{v.name}: torch.Tensor" for v in args)
    shapes = ", ".join(f"{v.name} {v.batched_shape}" for v in args)
    width = max(len(f"    {name} = {expr}") for name, expr, _ in terms)
    lines = [
        "import torch",
        "",
        "",
        f"def compute_reward({params}) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:",
        f"    # shapes: {shapes}",
    ]
    lines += [f"{f'    {name} = {expr}':<{width}}  # {comment}" for name, expr, comment in terms]
    total = " + ".join(name for name, _, _ in terms)
    lines.append(f"{f'    total = {total}':<{width}}  # (N,): one value per env")
    lines.append("    return total, {" + ", ".join(f'"{name}": {name}' for name, _, _ in terms) + "}")
    return "\n".join(lines) + "\n"


def pick_example_task(spec: TaskSpec, tasks: Sequence[TaskSpec]) -> TaskSpec:
    """Another task for the example, with a progress variable (:func:`has_progress`), of the same kind if there
    is one; else any other task; ``spec`` when it is alone.

    Chosen deterministically (the next such task after ``spec`` in id order), so prompts are stable.
    """
    others = [t for t in tasks if t.id != spec.id and t.env_id != spec.env_id]
    natural = [t for t in others if has_progress(t)]
    same = [t for t in natural if t.kind == spec.kind]
    pool = same or natural or others
    if not pool:
        return spec
    later = [t for t in pool if t.id > spec.id]
    return later[0] if later else pool[0]
