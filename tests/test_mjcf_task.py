"""Tasks from a bare MuJoCo model (``mjcf:<path>``, ``run --mjcf``): env, derived state, task files, a whole run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import mujoco
import numpy as np
import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.cli import build_parser, config_from_args, main
from eureka_kit.config import RunConfig
from eureka_kit.task_file import TaskFileError, load_task_file
from eureka_kit.tasks.mjcf import MjcfModelError, localize, mjcf_task_id, parse_task_id
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import make_env
from eureka_kit.training.backends import resolve_training

MODEL = Path(__file__).parent / "data" / "mjcf" / "walker2link.xml"


def test_the_env_drives_the_actuators_and_observes_qpos_qvel() -> None:
    spec = get_task(mjcf_task_id(MODEL, episode_steps=7, frame_skip=3))
    env = make_env(spec)
    model = env.unwrapped.model
    np.testing.assert_array_equal(env.action_space.low, [-1.0, -0.5])
    np.testing.assert_array_equal(env.action_space.high, [1.0, 0.5])
    obs, _ = env.reset(seed=1)
    assert obs.shape == (model.nq + model.nv,) == (10,)
    assert np.abs(obs[:5] - np.array([0, 0, 0, 0, 0])).max() <= 0.01  # the initial pose + small noise
    steps, truncated = 0, False
    while not truncated:
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        assert not terminated and reward == 0.0
    assert steps == 7  # the stated episode length
    assert env.unwrapped.dt == pytest.approx(0.005 * 3)


def test_derived_state_of_the_model_matches_mujoco() -> None:
    spec = get_task(mjcf_task_id(MODEL))
    shapes = {v.name: v.shape for v in spec.state}
    for joint in ("rootx", "rootz", "rooty", "hip", "knee"):
        assert shapes[f"{joint}_pos"] == () and shapes[f"{joint}_vel"] == ()
    for body in ("torso", "thigh", "shin"):
        assert shapes[f"{body}_pos"] == (3,) and shapes[f"{body}_quat"] == (4,) and shapes[f"{body}_up"] == (3,)
        assert shapes[f"{body}_lin_vel"] == (3,) and shapes[f"{body}_contact_force"] == ()
    assert shapes["foot_site_pos"] == (3,) and shapes["action"] == (2,) and shapes["root_height"] == ()
    env = make_env(spec)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        _, _, _, _, info = env.step(rng.uniform(-0.5, 0.5, 2))
    state = info["eureka_state"]
    model, data = env.unwrapped.model, env.unwrapped.data
    assert set(state) == set(shapes) and all(np.shape(state[n]) == shapes[n] for n in shapes)
    knee = model.joint("knee")
    assert state["knee_pos"] == data.qpos[knee.qposadr[0]] and state["knee_vel"] == data.qvel[knee.dofadr[0]]
    assert state["rootx_pos"] == data.qpos[0]
    torso = model.body("torso").id
    np.testing.assert_array_equal(state["torso_pos"], data.xpos[torso])
    np.testing.assert_array_equal(state["foot_site_pos"], data.site_xpos[model.site("foot").id])
    vel = np.zeros(6)
    mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, torso, vel, 0)
    assert state["root_lin_vel_x"] == pytest.approx(vel[3])
    assert state["root_height"] == data.xpos[torso][2]
    assert state["env_reward"] == 0.0
    for _ in range(200):  # until it touches the floor: contact forces are the normal forces of MuJoCo's contacts
        _, _, _, _, info = env.step(rng.uniform(-0.5, 0.5, 2))
        if data.ncon:
            break
    force, normal = np.zeros(6), 0.0
    for i in range(data.ncon):
        mujoco.mj_contactForce(model, data, i, force)
        normal += abs(force[0])  # every contact here is between the floor (world body) and one of the links
    touching = sum(float(info["eureka_state"][f"{b}_contact_force"]) for b in ("torso", "thigh", "shin"))
    assert data.ncon > 0 and touching == pytest.approx(normal) and touching > 0


def test_task_ids_and_their_errors(tmp_path: Path) -> None:
    ref = parse_task_id(mjcf_task_id(MODEL, episode_steps=500))
    assert ref.path == MODEL.absolute() and ref.episode_steps == 500 and ref.frame_skip == 5
    assert mjcf_task_id(MODEL) == f"mjcf:{MODEL.absolute()}"  # defaults are left out of the id
    with pytest.raises(MjcfModelError, match="unknown option 'steps'; valid: episode_steps, frame_skip"):
        parse_task_id(f"mjcf:{MODEL}?steps=3")
    with pytest.raises(MjcfModelError, match="does not exist"):
        get_task(mjcf_task_id(tmp_path / "nope.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco><worldbody><body><geom type='sphere'/></body></worldbody></mujoco>")
    with pytest.raises(MjcfModelError, match="MuJoCo cannot compile the model"):
        get_task(mjcf_task_id(bad))
    idle = tmp_path / "idle.xml"
    idle.write_text("<mujoco><worldbody><body><geom type='sphere' size='0.1'/></body></worldbody></mujoco>")
    with pytest.raises(MjcfModelError, match="no actuators"):
        get_task(mjcf_task_id(idle))


def test_localize_compiles_includes_into_one_file(tmp_path: Path) -> None:
    task = localize(mjcf_task_id(MODEL, frame_skip=4), tmp_path / "model")
    ref = parse_task_id(task)
    assert ref.path == (tmp_path / "model" / "walker2link.mjb").resolve() and ref.frame_skip == 4
    assert (tmp_path / "model" / "walker2link.xml").read_text() == MODEL.read_text()
    assert not (tmp_path / "model" / "walker2link_assets.xml").exists()  # the include is compiled in
    assert get_task(task).state_names == get_task(mjcf_task_id(MODEL)).state_names


def test_cli_and_task_file(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["run", "--mjcf", str(MODEL), "--episode-steps", "200", "--fitness", "mean(root_lin_vel_x)"]
    )
    config = config_from_args(args)
    assert config.task == mjcf_task_id(MODEL, episode_steps=200)
    assert config.task_spec().max_episode_steps == 200
    with pytest.raises(ValueError, match="--episode-steps and --frame-skip set up a --mjcf model"):
        config_from_args(build_parser().parse_args(["run", "Hopper-Run-v1", "--episode-steps", "9"]))
    # the batched engines need a hand-written physics definition: --backend cpu says so
    with pytest.raises(Exception, match="has no batched engine"):
        resolve_training("cpu", config.task_spec(), "cpu")

    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "robot.xml").write_text(MODEL.read_text())
    (folder / "walker2link_assets.xml").write_text((MODEL.parent / "walker2link_assets.xml").read_text())
    good = folder / "walk.toml"
    good.write_text('mjcf = "robot.xml"\nframe_skip = 2\ngoal = "walk forward"\nfitness = "mean(root_lin_vel_x)"\n')
    tf = load_task_file(good)
    assert tf.task_id == mjcf_task_id(folder / "robot.xml", frame_skip=2)
    bad = folder / "bad.toml"
    bad.write_text('mjcf = "missing.xml"\nenv = "Hopper-v5"\nepisode_steps = 0\n')
    with pytest.raises(TaskFileError) as e:
        load_task_file(bad)
    assert any("give exactly one" in line for line in e.value.errors)
    bad.write_text('mjcf = "missing.xml"\n')
    with pytest.raises(TaskFileError, match=r"mjcf: model file .*missing\.xml does not exist"):
        load_task_file(bad)


def test_check_reads_a_compiled_copy_of_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`eureka-kit check mjcf:robot.xml`: the sandboxed check child sees the model (includes compiled in)."""
    program = tmp_path / "reward.py"
    program.write_text(
        "import torch\n\ndef compute_reward(root_lin_vel_x: torch.Tensor, action: torch.Tensor):\n"
        "    return root_lin_vel_x, {'forward': root_lin_vel_x}\n"
    )
    assert main(["check", mjcf_task_id(MODEL), str(program)]) == 0
    assert f"OK for task {mjcf_task_id(MODEL)}" in capsys.readouterr().out


PROGRAM = textwrap.dedent(
    """
    ```python
    import torch

    def compute_reward(root_lin_vel_x: torch.Tensor, root_height: torch.Tensor, action: torch.Tensor):
        forward = root_lin_vel_x
        alive = 0.5 * (root_height > 0.3).float()
        ctrl = -0.01 * (action ** 2).sum(dim=-1)
        return forward + alive + ctrl, {"forward": forward, "alive": alive, "ctrl": ctrl}
    ```
    """
)


def test_a_free_form_goal_on_the_model_runs_end_to_end(tmp_path: Path) -> None:
    """Replay answers, sandboxed check and training from the run's copy of the model, trusted evaluation."""
    replay = write_replay(tmp_path / "replay.jsonl", [("*", PROGRAM)])
    run = run_tiny(
        tmp_path / "runs",
        replay,
        task=mjcf_task_id(MODEL, episode_steps=100),
        samples=1,
        generations=1,
        analyzer=False,
        trajectory_check=False,
        goal="walk forward without falling",
        fitness="mean(root_lin_vel_x)",
    )
    assert run.run_dir.name.startswith("mjcf-walker2link__")
    copy = run.run_dir / "model" / "walker2link.mjb"
    assert copy.is_file()
    config = RunConfig.from_json(json.loads((run.run_dir / "config.json").read_text())["config"])
    assert parse_task_id(config.task).path == copy.resolve()  # the children read the run's own copy
    cand = run.run_dir / "gen_000" / "cand_00"
    record = json.loads((cand / "candidate.json").read_text())
    assert record["status"] == "ok", record["message"]
    assert record["backend"] == "sb3"
    assert json.loads((cand / "eval.json").read_text())["fitness_name"] == "expr: mean(root_lin_vel_x)"
