"""MuJoCo locomotion tasks (gymnasium v5 envs).

Every task's physics side (state variables, observation, env reward,
termination, reset noise) is defined once, batched, in
:mod:`eureka_kit.sim.locomotion`, with gymnasium v5's semantics: the specs
here take their state extraction (the same functions at N=1 on the gymnasium
env's ``data``, velocities from the step ``info``) and their
``baseline_reward`` (the env's own reward, recomputed exactly from the batched
state) from there, so the gymnasium path and the batched engines agree.

Fitness. HalfCheetah never terminates, so its mean forward velocity is a fair
score. Hopper, Walker2d, Ant and Humanoid end the episode when they fall; a
*mean* velocity there would reward a fast dive followed by a fall. Their
fitness is the forward distance travelled over the episode (sum of
``x_velocity * dt``, i.e. the x displacement): a fall stops the count, so
falling early can only lose.

Training defaults are rl-baselines3-zoo's PPO hyperparameters
(``hyperparams/ppo.yml``, the ``-v4`` entries: same models as v5) where the
zoo has tuned values, else its ``mujoco-defaults`` (SB3's PPO defaults with
``normalize: true``). Step budgets are scaled down to fit a small CPU machine.
"""

from __future__ import annotations

from dataclasses import replace

from eureka_kit.sim import locomotion as phys
from eureka_kit.sim.factory import mujoco_engine
from eureka_kit.sim.physics import gym_extractor
from eureka_kit.tasks.engine import BatchedConfig
from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import LOCOMOTION_3D, LOCOMOTION_PLANAR, Fitness, StateVar, TaskSpec, TrainDefaults


def _forward_distance(dt: float) -> Fitness:
    """Distance travelled forward: sum over the episode of ``x_velocity * dt``."""
    return Fitness(
        name="forward_distance",
        description=(
            "distance travelled forward (+x) during the episode, in metres; the episode ends when the robot "
            "falls, so a fall stops the count"
        ),
        unit="m",
        step=lambda s: s["x_velocity"] * dt,
        aggregate="sum",
    )


# rl-baselines3-zoo, ppo.yml: the tuned MuJoCo entries share this policy.
_ZOO_PPO_POLICY = {
    "log_std_init": -2.0,
    "ortho_init": False,
    "activation_fn": "relu",
    "net_arch": {"pi": [256, 256], "vf": [256, 256]},
}

# rl-baselines3-zoo's `mujoco-defaults` (Ant-v4 and every MuJoCo env without tuned values): SB3's PPO
# defaults with VecNormalize; spelled out so the values in a run's config do not depend on the SB3 version.
ZOO_PPO_MUJOCO_DEFAULTS = {
    "n_steps": 2048,
    "batch_size": 64,
    "n_epochs": 10,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "learning_rate": 3e-4,
    "clip_range": 0.2,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
}

# Defaults of the batched backends (cpu, gpu: rsl-rl PPO), tuned for wall-clock time to a good policy on a
# 2-core machine with bench/tune_batched.py; the figures behind them are in docs/benchmarks.md.
LEGGED_BATCHED = BatchedConfig(
    total_steps=1_000_000,
    num_envs=64,
    desired_kl=0.03,
    init_std=0.5,
    actor_hidden_dims=(128, 128),
    critic_hidden_dims=(128, 128),
)
"""The legged robots' common row (Hopper, Walker2d, Ant, Humanoid; total steps set per task): half the fallback's
initial action noise, a larger KL target for the adaptive learning rate and 128x128 networks."""

_HALF_CHEETAH_BATCHED = BatchedConfig(
    total_steps=1_000_000,
    num_envs=64,
    num_steps_per_env=32,
    num_learning_epochs=5,
    num_mini_batches=4,
    learning_rate=1e-3,
    desired_kl=0.03,
    gamma=0.98,
    lam=0.92,
    init_std=0.2,
    actor_hidden_dims=(128, 128),
    critic_hidden_dims=(128, 128),
)
"""HalfCheetah: a low initial action noise (rl-zoo's log_std_init=-2), rl-zoo's gamma/lambda, a KL target of 0.03."""

# ---------------------------------------------------------------------------------------------- HalfCheetah

# rl-baselines3-zoo's tuned PPO for HalfCheetah (ppo.yml, HalfCheetah-v4).
_ZOO_PPO_HALFCHEETAH = {
    "batch_size": 64,
    "n_steps": 512,
    "gamma": 0.98,
    "learning_rate": 2.0633e-05,
    "ent_coef": 0.000401762,
    "clip_range": 0.1,
    "n_epochs": 20,
    "gae_lambda": 0.92,
    "max_grad_norm": 0.8,
    "vf_coef": 0.58096,
}


HALF_CHEETAH = register(
    TaskSpec(
        id="HalfCheetah-Run-v1",
        goal="make the cheetah run forward fast",
        env_id="HalfCheetah-v5",
        description=(
            "A planar two-legged cheetah robot (a torso with a back and a front leg, each with thigh, "
            "shin and foot joints). Make it run forward (in the +x direction) as fast as possible."
        ),
        state=(
            StateVar("x_position", (), "m", "torso x position (forward is +x)"),
            StateVar("x_velocity", (), "m/s", "torso forward velocity over the last step (positive = forward)"),
            StateVar("torso_height", (), "m", "torso z offset from its initial height"),
            StateVar("torso_angle", (), "rad", "torso pitch angle; 0 is level, |angle| > pi/2 means flipped"),
            StateVar("torso_angular_velocity", (), "rad/s", "torso pitch rate"),
            StateVar("joint_pos", (6,), "rad", "joint angles: bthigh, bshin, bfoot, fthigh, fshin, ffoot"),
            StateVar("joint_vel", (6,), "rad/s", "joint angular velocities, same order as joint_pos"),
            StateVar("action", (6,), "torque", "joint torques applied this step, each in [-1, 1]"),
        ),
        extract=gym_extractor(phys.HALF_CHEETAH),
        fitness=Fitness(
            name="forward_velocity",
            description="mean forward velocity of the torso over the episode",
            unit="m/s",
            step=lambda s: s["x_velocity"],
            aggregate="mean",
        ),
        baseline_reward=phys.HALF_CHEETAH.reward,
        engine=mujoco_engine(phys.HALF_CHEETAH),
        batched=_HALF_CHEETAH_BATCHED,
        train=TrainDefaults(
            algo="PPO",
            total_steps=200_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=_ZOO_PPO_HALFCHEETAH,
            policy_kwargs=_ZOO_PPO_POLICY,
        ),
        max_episode_steps=1000,
        tags=("mujoco", "locomotion"),
        analysis=LOCOMOTION_PLANAR,
    )
)

# ---------------------------------------------------------------------------------------------- Ant

_ANT_DT = 0.05  # frame_skip 5 x timestep 0.01


ANT = register(
    TaskSpec(
        id="Ant-Run-v1",
        goal="make the ant run forward fast",
        env_id="Ant-v5",
        description=(
            "A four-legged ant robot (a round torso with four legs, each with a hip and an ankle joint) "
            "moving in 3D on a flat floor. Make it run forward (in the +x direction) as fast as possible. "
            "The episode ends early if the torso height leaves [0.2, 1.0] m (e.g. it flips over or jumps)."
        ),
        state=(
            StateVar("x_velocity", (), "m/s", "torso forward velocity over the last step (positive = forward, +x)"),
            StateVar("y_velocity", (), "m/s", "torso sideways velocity over the last step (+y is to the left)"),
            StateVar("torso_height", (), "m", "torso z above the floor; 0.75 at the start, about 0.45 at rest"),
            StateVar("upright", (), "cosine", "z of the torso's up axis: 1 upright, 0 on its side, -1 upside down"),
            StateVar("torso_angular_velocity", (3,), "rad/s", "torso angular velocity about its own x, y, z axes"),
            StateVar(
                "joint_pos",
                (8,),
                "rad",
                "joint angles (hip, ankle) of the legs: front-left (+x+y), back-left (-x+y), back-right (-x-y), "
                "front-right (+x-y)",
            ),
            StateVar("joint_vel", (8,), "rad/s", "joint angular velocities, same order as joint_pos"),
            StateVar(
                "contact_forces",
                (13, 6),
                "N, N*m",
                "external contact wrench [torque xyz, force xyz] on each body: torso, then for each leg in "
                "joint_pos order its root, upper leg and lower leg (foot); nonzero on bodies touching the floor",
            ),
            StateVar("is_healthy", (), "bool as 0/1", "1.0 while torso_height is in [0.2, 1.0], else 0.0 (ends it)"),
            StateVar("action", (8,), "torque", "joint torques applied this step, each in [-1, 1], joint_pos order"),
        ),
        extract=gym_extractor(phys.ANT),
        fitness=_forward_distance(_ANT_DT),
        baseline_reward=phys.ANT.reward,
        engine=mujoco_engine(phys.ANT),
        batched=replace(LEGGED_BATCHED, total_steps=2_000_000),
        # rl-baselines3-zoo, ppo.yml, Ant-v4: `mujoco-defaults` (its tuned Ant entry is commented out).
        train=TrainDefaults(
            algo="PPO",
            total_steps=500_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=ZOO_PPO_MUJOCO_DEFAULTS,
        ),
        max_episode_steps=1000,
        tags=("mujoco", "locomotion", "3d", "terminates"),
        analysis=LOCOMOTION_3D,
    )
)

# ---------------------------------------------------------------------------------------------- Hopper

_HOPPER_DT = 0.008  # frame_skip 4 x timestep 0.002


# rl-baselines3-zoo's tuned PPO for Hopper (ppo.yml, Hopper-v4).
_ZOO_PPO_HOPPER = {
    "batch_size": 32,
    "n_steps": 512,
    "gamma": 0.999,
    "learning_rate": 9.80828e-05,
    "ent_coef": 0.00229519,
    "clip_range": 0.2,
    "n_epochs": 5,
    "gae_lambda": 0.99,
    "max_grad_norm": 0.7,
    "vf_coef": 0.835671,
}

HOPPER = register(
    TaskSpec(
        id="Hopper-Hop-v1",
        goal="make the hopper hop forward without falling",
        env_id="Hopper-v5",
        description=(
            "A planar one-legged hopper robot (a torso on a leg with thigh, leg and foot joints). Make it hop "
            "forward (in the +x direction) as fast as possible without falling. The episode ends when it "
            "falls: torso height below 0.7 m, |torso angle| above 0.2 rad, or a joint state beyond +-100."
        ),
        state=(
            StateVar("x_velocity", (), "m/s", "torso forward velocity over the last step (positive = forward, +x)"),
            StateVar("z_velocity", (), "m/s", "torso vertical velocity (positive = up)"),
            StateVar("torso_height", (), "m", "torso z above the floor; 1.25 at the start, falling below 0.7 ends it"),
            StateVar("torso_angle", (), "rad", "torso pitch: 0 upright, positive leans forward; |angle| > 0.2 ends it"),
            StateVar("torso_angular_velocity", (), "rad/s", "torso pitch rate"),
            StateVar("joint_pos", (3,), "rad", "joint angles: thigh, leg (knee), foot"),
            StateVar("joint_vel", (3,), "rad/s", "joint angular velocities, same order as joint_pos"),
            StateVar("foot_contact_force", (), "N", "magnitude of the floor's contact force on the foot; 0 in the air"),
            StateVar("is_healthy", (), "bool as 0/1", "1.0 while the hopper has not fallen, 0.0 on the step it falls"),
            StateVar("action", (3,), "torque", "joint torques applied this step, each in [-1, 1], joint_pos order"),
        ),
        extract=gym_extractor(phys.HOPPER),
        fitness=_forward_distance(_HOPPER_DT),
        baseline_reward=phys.HOPPER.reward,
        engine=mujoco_engine(phys.HOPPER),
        batched=replace(LEGGED_BATCHED, total_steps=1_000_000),
        train=TrainDefaults(
            algo="PPO",
            total_steps=300_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=_ZOO_PPO_HOPPER,
            policy_kwargs=_ZOO_PPO_POLICY,
        ),
        max_episode_steps=1000,
        tags=("mujoco", "locomotion", "planar", "terminates"),
        analysis=LOCOMOTION_PLANAR,
    )
)

# ---------------------------------------------------------------------------------------------- Walker2d

_WALKER_DT = 0.008  # frame_skip 4 x timestep 0.002


# rl-baselines3-zoo's tuned PPO for Walker2d (ppo.yml, Walker2d-v4; no policy_kwargs there: SB3's default net).
_ZOO_PPO_WALKER = {
    "batch_size": 32,
    "n_steps": 512,
    "gamma": 0.99,
    "learning_rate": 5.05041e-05,
    "ent_coef": 0.000585045,
    "clip_range": 0.1,
    "n_epochs": 20,
    "gae_lambda": 0.95,
    "max_grad_norm": 1.0,
    "vf_coef": 0.871923,
}

WALKER = register(
    TaskSpec(
        id="Walker2d-Walk-v1",
        goal="make the walker walk forward without falling",
        env_id="Walker2d-v5",
        description=(
            "A planar two-legged walker robot (a torso on two legs, each with thigh, leg and foot joints). "
            "Make it walk forward (in the +x direction) as fast as possible without falling. The episode "
            "ends when it falls: torso height outside (0.8, 2.0) m or |torso angle| above 1 rad."
        ),
        state=(
            StateVar("x_velocity", (), "m/s", "torso forward velocity over the last step (positive = forward, +x)"),
            StateVar("torso_height", (), "m", "torso z above the floor; 1.25 at the start, must stay in (0.8, 2.0)"),
            StateVar("torso_angle", (), "rad", "torso pitch: 0 upright, positive leans forward; |angle| > 1 ends it"),
            StateVar("torso_angular_velocity", (), "rad/s", "torso pitch rate"),
            StateVar(
                "joint_pos", (6,), "rad", "joint angles: right thigh, leg (knee), foot, then left thigh, leg, foot"
            ),
            StateVar("joint_vel", (6,), "rad/s", "joint angular velocities, same order as joint_pos"),
            StateVar(
                "feet_contact_force", (2,), "N", "floor contact force magnitude on [right, left] foot; 0 in the air"
            ),
            StateVar("is_healthy", (), "bool as 0/1", "1.0 while the walker has not fallen, 0.0 on the step it falls"),
            StateVar("action", (6,), "torque", "joint torques applied this step, each in [-1, 1], joint_pos order"),
        ),
        extract=gym_extractor(phys.WALKER),
        fitness=_forward_distance(_WALKER_DT),
        baseline_reward=phys.WALKER.reward,
        engine=mujoco_engine(phys.WALKER),
        batched=replace(LEGGED_BATCHED, total_steps=1_500_000),
        train=TrainDefaults(
            algo="PPO",
            total_steps=300_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=_ZOO_PPO_WALKER,
        ),
        max_episode_steps=1000,
        tags=("mujoco", "locomotion", "planar", "terminates"),
        analysis=LOCOMOTION_PLANAR,
    )
)

# ---------------------------------------------------------------------------------------------- Humanoid

_HUMANOID_DT = 0.015  # frame_skip 5 x timestep 0.003


# rl-baselines3-zoo's tuned PPO for Humanoid (ppo.yml, Humanoid-v4).
_ZOO_PPO_HUMANOID = {
    "batch_size": 256,
    "n_steps": 512,
    "gamma": 0.95,
    "learning_rate": 3.56987e-05,
    "ent_coef": 0.00238306,
    "clip_range": 0.3,
    "n_epochs": 5,
    "gae_lambda": 0.9,
    "max_grad_norm": 2.0,
    "vf_coef": 0.431892,
}

_HUMANOID_BODIES = (
    "torso, lwaist, pelvis, right_thigh, right_shin, right_foot, left_thigh, left_shin, left_foot, "
    "right_upper_arm, right_lower_arm, left_upper_arm, left_lower_arm"
)
_HUMANOID_JOINTS = (
    "abdomen_z, abdomen_y, abdomen_x, right_hip_x, right_hip_z, right_hip_y, right_knee, left_hip_x, "
    "left_hip_z, left_hip_y, left_knee, right_shoulder1, right_shoulder2, right_elbow, left_shoulder1, "
    "left_shoulder2, left_elbow"
)
_HUMANOID_ACTUATORS = (
    "abdomen_y, abdomen_z, abdomen_x, then the other 14 joints in joint_pos order (right_hip_x ... left_elbow)"
)

HUMANOID = register(
    TaskSpec(
        id="Humanoid-Run-v1",
        goal="make the humanoid run forward without falling",
        env_id="Humanoid-v5",
        description=(
            "A 3D humanoid robot (torso, abdomen, two legs with hips, knees and feet, two arms with shoulders "
            "and elbows). Make it run forward (in the +x direction) as fast as possible without falling. "
            "The episode ends when it falls: torso height outside (1.0, 2.0) m."
        ),
        state=(
            StateVar("x_velocity", (), "m/s", "forward velocity of the centre of mass over the last step (+x)"),
            StateVar("y_velocity", (), "m/s", "sideways velocity of the centre of mass (+y is to the left)"),
            StateVar("torso_height", (), "m", "torso z above the floor; 1.4 at the start, must stay in (1.0, 2.0)"),
            StateVar("upright", (), "cosine", "z of the torso's up axis: 1 upright, 0 lying, -1 upside down"),
            StateVar("torso_angular_velocity", (3,), "rad/s", "torso angular velocity about its own x, y, z axes"),
            StateVar("joint_pos", (17,), "rad", f"joint angles: {_HUMANOID_JOINTS}"),
            StateVar("joint_vel", (17,), "rad/s", "joint angular velocities, same order as joint_pos"),
            StateVar(
                "contact_forces",
                (13, 6),
                "N, N*m",
                f"external contact wrench [torque xyz, force xyz] on each body: {_HUMANOID_BODIES}",
            ),
            StateVar("is_healthy", (), "bool as 0/1", "1.0 while torso_height is in (1.0, 2.0), else 0.0 (ends it)"),
            StateVar("action", (17,), "torque", f"joint torques, each in [-0.4, 0.4], order: {_HUMANOID_ACTUATORS}"),
        ),
        extract=gym_extractor(phys.HUMANOID),
        fitness=_forward_distance(_HUMANOID_DT),
        baseline_reward=phys.HUMANOID.reward,
        engine=mujoco_engine(phys.HUMANOID),
        batched=replace(LEGGED_BATCHED, total_steps=3_000_000),
        train=TrainDefaults(
            algo="PPO",
            total_steps=500_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=_ZOO_PPO_HUMANOID,
            policy_kwargs=_ZOO_PPO_POLICY,
        ),
        max_episode_steps=1000,
        tags=("mujoco", "locomotion", "3d", "terminates", "slow"),
        analysis=LOCOMOTION_3D,
    )
)
