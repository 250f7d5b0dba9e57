"""Tasks for any gymnasium MuJoCo env (``gym:<env id>``): state derived from the model, checked against MuJoCo."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import mujoco
import numpy as np
import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.cli import main
from eureka_kit.config import RunConfig
from eureka_kit.tasks.derived import NotAMujocoEnvError, derive_task
from eureka_kit.tasks.registry import UnknownTaskError, get_task
from eureka_kit.tasks.state_capture import make_env


def _step(task_id: str, steps: int = 30) -> tuple[dict[str, np.ndarray], object, float]:
    env = make_env(get_task(task_id))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        _, reward, _, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
    return info["eureka_state"], env.unwrapped, float(reward)


def test_hopper_state_names_shapes_and_values_match_mujoco() -> None:
    spec = get_task("gym:Hopper-v5")
    shapes = {v.name: v.shape for v in spec.state}
    for joint in ("thigh_joint", "leg_joint", "foot_joint"):
        assert shapes[f"{joint}_pos"] == () and shapes[f"{joint}_vel"] == ()
    for body in ("torso", "thigh", "leg", "foot"):
        assert shapes[f"{body}_pos"] == (3,) and shapes[f"{body}_quat"] == (4,) and shapes[f"{body}_rpy"] == (3,)
        assert shapes[f"{body}_lin_vel"] == (3,) and shapes[f"{body}_contact_force"] == ()
    assert shapes["action"] == (3,) and shapes["root_height"] == () and shapes["env_reward"] == ()

    state, env, reward = _step("gym:Hopper-v5")
    model, data = env.model, env.data  # type: ignore[attr-defined]
    assert set(state) == set(shapes)
    assert all(np.shape(state[n]) == shapes[n] for n in shapes)
    thigh = model.joint("thigh_joint")
    assert state["thigh_joint_pos"] == data.qpos[thigh.qposadr[0]]
    assert state["thigh_joint_vel"] == data.qvel[thigh.dofadr[0]]
    torso = model.body("torso").id
    np.testing.assert_array_equal(state["torso_pos"], data.xpos[torso])
    np.testing.assert_array_equal(state["torso_quat"], data.xquat[torso])
    assert state["root_height"] == data.xpos[torso][2]
    vel = np.zeros(6)
    mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, torso, vel, 0)
    np.testing.assert_allclose(state["torso_lin_vel"], vel[3:])
    assert state["root_lin_vel_x"] == pytest.approx(vel[3])
    # a planar hopper: its pitch is the rooty hinge angle (up to the sign convention of z-y-x angles)
    assert abs(state["root_pitch"]) == pytest.approx(abs(data.qpos[model.joint("rooty").qposadr[0]]), abs=1e-6)
    assert state["env_reward"] == pytest.approx(reward)


def test_ant_contacts_and_orientation() -> None:
    state, _env, _ = _step("gym:Ant-v5", steps=60)  # the ant has settled on its feet
    feet = [k for k in state if k.endswith("_contact_force")]
    assert sum(float(state[k]) for k in feet) > 0  # something touches the floor
    np.testing.assert_allclose(np.linalg.norm(state["torso_up"]), 1.0)
    assert state["root_up_z"] == pytest.approx(state["torso_up"][2])
    assert {"hip_1_pos", "ankle_4_vel", "torso_rpy"} <= set(state)
    assert "root_pos" not in state  # the free joint is covered by its body (torso_*), not as a joint


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        ("gym:CartPole-v1", "not simulated by MuJoCo"),
        ("gym:NoSuchEnv-v0", "gymnasium cannot make 'NoSuchEnv-v0'"),
        ("gym:", "give an env id after 'gym:'"),
    ],
)
def test_not_a_mujoco_env(task_id: str, message: str) -> None:
    with pytest.raises(NotAMujocoEnvError, match=message):
        derive_task(task_id)


def test_unknown_task_mentions_derived_ids() -> None:
    with pytest.raises(UnknownTaskError, match="or gym:<ENV_ID> for any gymnasium MuJoCo env"):
        get_task("Hoper-v5")


def test_a_derived_task_needs_a_fitness_or_a_person(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="has no fitness: give one with --fitness EXPR"):
        RunConfig(task="gym:Hopper-v5", llm="replay", replay_path="x").task_spec()
    spec = RunConfig(task="gym:Hopper-v5", fitness="mean(root_lin_vel_x)", llm="replay", replay_path="x").task_spec()
    assert not spec.free_form
    assert main(["run", "HalfCheetah-Run-v1", "--env", "Hopper-v5"]) == 2
    assert "name one task" in capsys.readouterr().err


PROGRAM = textwrap.dedent(
    """
    ```python
    import torch

    def compute_reward(root_lin_vel_x: torch.Tensor, root_up_z: torch.Tensor, action: torch.Tensor):
        forward = root_lin_vel_x
        upright = 0.5 * root_up_z
        ctrl = -0.01 * (action ** 2).sum(dim=-1)
        return forward + upright + ctrl, {"forward": forward, "upright": upright, "ctrl": ctrl}
    ```
    """
)


def test_a_free_form_goal_on_an_unregistered_env_runs_end_to_end(tmp_path: Path) -> None:
    """Replay answers, sandboxed check and training, trusted evaluation with an expression: the whole loop."""
    replay = write_replay(tmp_path / "replay.jsonl", [("*", PROGRAM)])
    run = run_tiny(
        tmp_path / "runs",
        replay,
        task="gym:Hopper-v5",
        samples=1,
        generations=1,
        analyzer=False,
        trajectory_check=False,
        goal="hop forward, torso upright",
        fitness="fraction(root_up_z > 0.9)",
    )
    cand = run.run_dir / "gen_000" / "cand_00"
    record = json.loads((cand / "candidate.json").read_text())
    assert record["status"] == "ok", record["message"]
    assert 0.0 <= record["fitness"] <= 1.0
    assert json.loads((cand / "eval.json").read_text())["fitness_name"] == "expr: fraction(root_up_z > 0.9)"
    assert record["backend"] == "sb3"  # no batched physics definition for a derived task
