r"""A small driving task of our own: follow a lead car at a safe, comfortable distance.

One lane, two cars, longitudinal motion only. The lead car's speed follows a seeded random profile
(drifting between cruising speeds of 8-28 m/s, and now and then a hard braking event); the agent chooses the
ego car's acceleration :math:`a_t = u_t\,a_\max`, :math:`u_t \in [-1, 1]`, every ``dt`` seconds.
With gap :math:`g` (bumper to bumper, m) and speeds :math:`v` (ego), :math:`v_L` (lead):

.. math:: v_{t+1} = \max(0, v_t + a_t\,dt), \qquad
          g_{t+1} = g_t + \tfrac{dt}{2}\big[(v_{L,t} + v_{L,t+1}) - (v_t + v_{t+1})\big].

An episode ends with ``terminated`` on a collision (:math:`g \le 0`) and with ``truncated`` after
``max_steps`` steps. Observation (float32, clipped): ``[g/40 m, v/20 m/s, (v_L - v)/5 m/s,
a_{t-1}/a_max, τ/2 s]`` with the **time gap** :math:`\tau = g/\max(v, 1\,\mathrm{m/s})`.

Good driving is easy to judge and hard to write down. The hidden *true* reward
(:func:`true_driving_reward`, ``info["true_reward"]``) is what a careful driver wants: no
collision, a time gap near 1.8 s (the "two-second rule"; closer is worse than farther), little jerk
and no harsh braking. The plausible *hand-written* reward (:func:`hand_written_reward`) is "drive
fast, don't crash" — the source's "reward = arrive safely" — and it pays for tailgating.
Constant-time-gap control is the textbook good controller (:class:`TimeGapController`;
cf. the IDM of Treiber, Hennecke, Helbing 2000, Phys. Rev. E 62, 1805). Reward misdesign for
driving is studied by Knox, Allievi, Banzhaf, Schmitt, Stone 2023, "Reward (mis)design for
autonomous driving", Artificial Intelligence 316.

Importing this module registers ``ENV_ID``; ``gym.make("rlft_core.envs:rlft/CarFollowing-v0")``
imports it for you.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from ._validate import check_callable, check_int, check_positive, check_range

ENV_ID = "rlft/CarFollowing-v0"
GAP_SCALE, SPEED_SCALE, REL_SCALE, TIME_GAP_SCALE = 40.0, 20.0, 5.0, 2.0   # observation units
MIN_SPEED = 1.0          # m/s: the time gap divides by max(v, 1) so it stays finite at standstill
DESIRED_TIME_GAP = 1.8   # s
HARSH_BRAKE = 3.0        # m/s²: braking harder than this is "harsh"
COLLISION_PENALTY = 50.0


def true_driving_reward(time_gap, accel, jerk, collision, desired_time_gap: float = DESIRED_TIME_GAP):
    r"""The hidden reward of one step: what a careful driver wants (numpy-broadcasting).

    .. math:: r = \exp\!\Big(-\big(\tfrac{\tau - \tau^*}{\sigma}\big)^2\Big)
                  - 0.25\,\big(\tfrac{j}{10\,\mathrm{m/s^3}}\big)^2
                  - 0.25\,\max(0, -a - 3\,\mathrm{m/s^2})^2 - 50\cdot\mathbb 1[\text{collision}]

    with :math:`\sigma = 0.5` s below :math:`\tau^* = 1.8` s (tailgating costs fast) and 1 s above
    (hanging back costs slowly); :math:`j = (a_t - a_{t-1})/dt` is the jerk. Each step of good
    following earns up to 1. The shape follows the comfort and headway criteria of adaptive cruise
    control (e.g. Moon, Moon, Yi 2009, "Design, tuning, and evaluation of a full-range adaptive
    cruise control system with collision avoidance", Control Engineering Practice 17).
    """
    tau, accel, jerk = (np.asarray(x, dtype=np.float64) for x in (time_gap, accel, jerk))
    sigma = np.where(tau < desired_time_gap, 0.5, 1.0)
    follow = np.exp(-((tau - desired_time_gap) / sigma) ** 2)
    comfort = 0.25 * (jerk / 10.0) ** 2 + 0.25 * np.maximum(0.0, -accel - HARSH_BRAKE) ** 2
    return follow - comfort - COLLISION_PENALTY * np.asarray(collision, dtype=np.float64)


def hand_written_reward(speed, collision):
    r"""A plausible but flawed reward: progress, and a penalty for crashing.

    .. math:: r = v / 20\,\mathrm{m/s} - 50\cdot\mathbb 1[\text{collision}]

    It says nothing about headway or comfort, so its optimum is to tailgate and brake hard.
    """
    return np.asarray(speed, dtype=np.float64) / SPEED_SCALE - COLLISION_PENALTY * np.asarray(collision, dtype=np.float64)


class CarFollowingEnv(gym.Env):
    """Car following with a varying lead car (see the module docstring); ``gym.make(ENV_ID)``.

    Args:
        reward: which reward ``step`` returns: ``"true"`` (:func:`true_driving_reward`) or
            ``"hand"`` (:func:`hand_written_reward`). Both are always in ``info``.
        dt: seconds per step. max_steps: steps before truncation.
        a_max: largest acceleration and braking, m/s². brake_prob: chance that a segment of the
            lead car's profile is a hard braking event (−2.5 to −5 m/s² for 1–2.5 s).

    ``info`` after each step: ``true_reward``, ``hand_reward``, ``collision``, ``gap`` (m),
    ``time_gap`` (s), ``speed``, ``lead_speed`` (m/s), ``accel`` (m/s², as applied), ``jerk`` (m/s³),
    ``harsh_brake`` (bool).
    """

    metadata = {"render_modes": []}

    def __init__(self, reward: str = "true", dt: float = 0.2, max_steps: int = 200, a_max: float = 5.0,
                 brake_prob: float = 0.25):
        if reward not in ("true", "hand"):
            raise ValueError(f"reward must be 'true' or 'hand', got {reward!r}")
        check_range("dt", dt, 0.0, 1.0, low_open=True)
        check_positive(a_max=a_max)
        check_range("brake_prob", brake_prob, 0.0, 1.0)
        check_int("max_steps", max_steps)
        self.reward_kind, self.dt, self.max_steps = reward, float(dt), int(max_steps)
        self.a_max, self.brake_prob = float(a_max), float(brake_prob)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        low = np.array([-1.0, 0.0, -6.0, -1.0, 0.0], dtype=np.float32)
        high = np.array([5.0, 2.0, 6.0, 1.0, 3.0], dtype=np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self._lead_speed = np.zeros(self.max_steps + 1)
        self.gap = self.speed = self.prev_accel = 0.0
        self.t = 0

    def _lead_profile(self) -> np.ndarray:
        """Lead speeds ``(max_steps + 1,)``: segments that drift towards a random cruising speed
        (8-28 m/s, at most 1.5 m/s²), and, with ``brake_prob`` each, hard braking events."""
        rng, n = self.np_random, self.max_steps
        speed = np.empty(n + 1)
        speed[0] = rng.uniform(10.0, 25.0)
        t = 0
        while t < n:
            if rng.random() < self.brake_prob:
                accel, duration = rng.uniform(-5.0, -2.5), rng.uniform(1.0, 2.5)
            else:
                duration = rng.uniform(2.0, 6.0)
                accel = float(np.clip((rng.uniform(8.0, 28.0) - speed[t]) / duration, -1.5, 1.5))
            for i in range(t, min(n, t + max(1, int(round(duration / self.dt))))):
                speed[i + 1] = min(max(speed[i] + accel * self.dt, 4.0), 30.0)
                t = i + 1
        return speed

    def _obs(self) -> np.ndarray:
        time_gap = max(self.gap, 0.0) / max(self.speed, MIN_SPEED)
        obs = np.array([self.gap / GAP_SCALE, self.speed / SPEED_SCALE,
                        (self._lead_speed[self.t] - self.speed) / REL_SCALE,
                        self.prev_accel / self.a_max, time_gap / TIME_GAP_SCALE], dtype=np.float32)
        return np.clip(obs, self.observation_space.low, self.observation_space.high)

    def reset(self, *, seed=None, options=None):
        """Start an episode. ``options`` may fix a scenario: ``lead_speed`` (``max_steps + 1`` speeds,
        m/s, >= 0), ``speed`` (ego, m/s) and ``gap`` (m); whatever is not given is drawn at random."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"lead_speed", "speed", "gap"}
        if unknown:
            raise ValueError(f"options may hold 'lead_speed', 'speed' and 'gap', got {sorted(unknown)}")
        self._lead_speed = self._lead_profile()
        if "lead_speed" in options:
            lead = np.asarray(options["lead_speed"], dtype=np.float64)
            if lead.shape != (self.max_steps + 1,) or not np.all(np.isfinite(lead)) or lead.min() < 0:
                raise ValueError(f"options['lead_speed'] must hold max_steps + 1 = {self.max_steps + 1} finite "
                                 f"speeds >= 0, got shape {lead.shape}")
            self._lead_speed = lead.copy()
        self.t, self.prev_accel = 0, 0.0
        self.speed = float(np.clip(self._lead_speed[0] + self.np_random.uniform(-2.0, 2.0), 0.0, None))
        self.gap = float(self.np_random.uniform(1.0, 3.0) * max(self.speed, MIN_SPEED))
        for name in ("speed", "gap"):
            if name in options:
                check_range(f"options['{name}']", options[name], 0.0, 1000.0, low_open=name == "gap")
                setattr(self, name, float(options[name]))
        return self._obs(), {}

    def step(self, action):
        u = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        if not math.isfinite(u):
            raise ValueError(f"action must be finite, got {action!r}")
        v_lead, v_lead_next = self._lead_speed[self.t], self._lead_speed[self.t + 1]
        speed_next = max(0.0, self.speed + u * self.a_max * self.dt)
        accel = (speed_next - self.speed) / self.dt             # as applied (no reversing)
        jerk = (accel - self.prev_accel) / self.dt
        self.gap += 0.5 * self.dt * ((v_lead + v_lead_next) - (self.speed + speed_next))
        self.speed, self.prev_accel, self.t = speed_next, accel, self.t + 1
        collision = self.gap <= 0.0
        time_gap = max(self.gap, 0.0) / max(self.speed, MIN_SPEED)
        true_r = float(true_driving_reward(time_gap, accel, jerk, collision))
        hand_r = float(hand_written_reward(self.speed, collision))
        info = {"true_reward": true_r, "hand_reward": hand_r, "collision": bool(collision), "gap": self.gap,
                "time_gap": time_gap, "speed": self.speed, "lead_speed": float(v_lead_next), "accel": accel,
                "jerk": jerk, "harsh_brake": bool(accel < -HARSH_BRAKE)}
        reward = true_r if self.reward_kind == "true" else hand_r
        return self._obs(), reward, bool(collision), bool(self.t >= self.max_steps and not collision), info


class TimeGapController:
    r"""A good hand-tuned driver: constant-time-gap control with a jerk limit, acting on observations.

    .. math:: a^\text{want} = k_g\,(g - \tau^* v) + k_v\,(v_L - v), \qquad
              a_t = a_{t-1} + \mathrm{clip}(a^\text{want} - a_{t-1}, \pm j_\max\,dt)

    (the constant-time-gap spacing policy of adaptive cruise control; Rajamani 2012, *Vehicle
    Dynamics and Control*, 2nd ed.) ``time_gap``
    below 1 s makes a tailgater; a large ``max_jerk`` with high gains a harsh driver; ``noise``
    adds Gaussian noise to ``u`` (seeded) for varied demonstrations. Returns ``u = a/a_max``, ``(1,)``.
    """

    def __init__(self, time_gap: float = DESIRED_TIME_GAP, gain_gap: float = 0.25, gain_speed: float = 0.8,
                 max_jerk: float = 4.0, noise: float = 0.0, a_max: float = 5.0, dt: float = 0.2, seed: int = 0):
        check_range("time_gap", time_gap, 0.0, 10.0)
        check_positive(gain_gap=gain_gap, gain_speed=gain_speed, max_jerk=max_jerk, a_max=a_max, dt=dt)
        check_range("noise", noise, 0.0, 10.0)
        self.time_gap, self.gain_gap, self.gain_speed = float(time_gap), float(gain_gap), float(gain_speed)
        self.max_jerk, self.noise, self.a_max, self.dt = float(max_jerk), float(noise), float(a_max), float(dt)
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (5,):
            raise ValueError(f"obs must be one CarFollowing observation of shape (5,), got {obs.shape}")
        gap, speed, rel_speed = obs[0] * GAP_SCALE, obs[1] * SPEED_SCALE, obs[2] * REL_SCALE
        prev_accel = obs[3] * self.a_max
        wanted = self.gain_gap * (gap - self.time_gap * max(speed, MIN_SPEED)) + self.gain_speed * rel_speed
        step = self.max_jerk * self.dt
        accel = prev_accel + np.clip(wanted - prev_accel, -step, step)
        u = accel / self.a_max + (self.noise * self.rng.normal() if self.noise else 0.0)
        return np.array([np.clip(u, -1.0, 1.0)], dtype=np.float32)


def driving_metrics(clip, a_max: float = 5.0, dt: float = 0.2) -> dict:
    """Physical quantities of a clip recorded by ``rlft_core.clips.record_clips`` on this env.

    Returns ``collision`` (the clip ended in a crash), per-step arrays ``time_gap`` (s, after each
    action), ``speed`` (m/s), ``accel`` (m/s², commanded), ``jerk`` (m/s³), and summaries
    ``min_time_gap``, ``mean_time_gap``, ``mean_speed``, ``rms_jerk``, ``harsh_brakes`` (steps
    braking harder than 3 m/s²).
    """
    for name in ("obs", "next_obs", "actions", "terminated"):
        if not hasattr(clip, name):
            raise ValueError(f"clip must be a Clip from record_clips (missing .{name}), got {type(clip).__name__}")
    obs, next_obs = np.asarray(clip.obs, dtype=np.float64), np.asarray(clip.next_obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != 5 or obs.shape != next_obs.shape or len(obs) == 0:
        raise ValueError(f"clip.obs must have shape (k, 5) like clip.next_obs, got {obs.shape} and {next_obs.shape}")
    accel = np.clip(np.asarray(clip.actions, dtype=np.float64).reshape(len(obs)), -1, 1) * a_max
    jerk = (accel - obs[:, 3] * a_max) / dt
    time_gap, speed = next_obs[:, 4] * TIME_GAP_SCALE, next_obs[:, 1] * SPEED_SCALE
    return {"collision": bool(clip.terminated), "time_gap": time_gap, "speed": speed, "accel": accel, "jerk": jerk,
            "min_time_gap": float(time_gap.min()), "mean_time_gap": float(time_gap.mean()),
            "mean_speed": float(speed.mean()), "rms_jerk": float(np.sqrt(np.mean(jerk ** 2))),
            "harsh_brakes": int(np.sum(accel < -HARSH_BRAKE))}


def evaluate_driving(policy, episodes: int = 10, seed: int = 1000, **env_kwargs) -> dict:
    """Drive ``episodes`` seeded episodes with ``policy(obs) -> action``; the safety and comfort figures.

    Returns ``collisions`` (episodes that ended in a crash), ``true_return`` and ``hand_return``
    (means per episode), ``mean_time_gap`` (s, over all steps), ``tailgating`` (fraction of steps
    with a time gap under 1 s), ``rms_jerk`` (m/s³), ``harsh_brakes`` (steps braking harder than
    3 m/s², per episode), and ``trace``: the first episode's ``time_gap`` and ``accel`` arrays.
    """
    check_callable("policy", policy, signature="(obs -> action)")
    check_int("episodes", episodes)
    env = CarFollowingEnv(**env_kwargs)
    collisions, true_ret, hand_ret, gaps, jerks, harsh, trace = 0, [], [], [], [], 0, None
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        steps, done = [], False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            steps.append(info)
            done = terminated or truncated
        collisions += int(terminated)
        true_ret.append(sum(s["true_reward"] for s in steps))
        hand_ret.append(sum(s["hand_reward"] for s in steps))
        gaps += [s["time_gap"] for s in steps]
        jerks += [s["jerk"] for s in steps]
        harsh += sum(s["harsh_brake"] for s in steps)
        if trace is None:
            trace = {key: np.array([s[key] for s in steps]) for key in ("time_gap", "accel")}
    gaps = np.asarray(gaps)
    return {"collisions": collisions, "true_return": float(np.mean(true_ret)), "hand_return": float(np.mean(hand_ret)),
            "mean_time_gap": float(gaps.mean()), "tailgating": float(np.mean(gaps < 1.0)),
            "rms_jerk": float(np.sqrt(np.mean(np.square(jerks)))), "harsh_brakes": harsh / episodes, "trace": trace}


def plot_driving_clip(clip, ax) -> None:
    """Draw a clip for a person to judge: time gap (blue, left axis; green band 1.5-2.1 s) and
    acceleration (orange, right axis; red band: harsh braking). Assumes the default dt and a_max."""
    m = driving_metrics(clip)
    t = np.arange(1, len(m["time_gap"]) + 1) * 0.2
    ax.axhspan(1.5, 2.1, color="tab:green", alpha=0.15)
    ax.plot(t, m["time_gap"], color="tab:blue", lw=1.5)
    ax.set(xlabel="time in clip (s)", ylim=(0, 4.5))
    ax.set_ylabel("time gap (s)", color="tab:blue")
    right = ax.twinx()
    right.plot(t, m["accel"], color="tab:orange", lw=1.0)
    right.axhspan(-5.5, -HARSH_BRAKE, color="tab:red", alpha=0.08)      # harsh braking
    right.set_ylim(-5.5, 5.5)
    right.set_ylabel("accel (m/s²)", color="tab:orange")
    if m["collision"]:
        ax.set_title("CRASH", color="tab:red", fontsize=9)


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point=CarFollowingEnv)
