"""Checker for the labeler exercise of notebook 06 (a driving case study).

The student writes ``labeler(clip_a, clip_b) -> 1.0 | 0.0 | 0.5`` (A better, B better, equally
good) for two clips of ``rlft_core.envs.CarFollowingEnv``. It is checked on pairs whose answer
any careful driver agrees on: a crash against a safe clip, tailgating against a comfortable gap,
harsh against smooth braking, closing in fast against keeping the gap, and the same clip twice.
The clips are driven live in scripted scenarios (a lead car that cruises or brakes), so the
student can plot them with ``rlft_core.envs.plot_driving_clip``.
"""
from __future__ import annotations

from dataclasses import fields

import gymnasium as gym
import numpy as np

from ..clips import Clip
from ..i18n import tr
from ._core import Case, Mistake, run_check
from ._hints import Hints, register

HINTS = {
    "driving_labeler": Hints(
        start="Inputs: two clips; driving_metrics(clip) gives a dict with collision, time_gap (per "
              "step), harsh_brakes, rms_jerk, mean_speed, ... Return 1.0 if clip A is the better "
              "driving, 0.0 if clip B is, 0.5 if they are equally good. Re-read 6.2 (what a careful "
              "driver wants).",
        idea="Rank what a careful driver cares about: no crash above all, then a safe time gap (not "
             "under 1 s, not far over 3 s), then comfort (few harsh brakes, little jerk). Turn that into "
             "one score per clip and compare the scores.",
        formula="score = −100·crash − 5·(share of steps with time gap < 1 s) − 1·(share > 3 s) − "
                "0.5·harsh brakes − 0.1·RMS jerk;   1.0 if score_A > score_B, 0.0 if <, 0.5 if equal",
        notebook="06_case_study_driving", function="my_labeler",
        reference="rlft_core.exercises.driving.reference_driving_labeler"),
}
register(HINTS)

CLIP_STEPS = 25      # 5 s at dt = 0.2 s


def reference_driving_score(metrics: dict) -> float:
    """How a careful driver rates a clip, from ``rlft_core.envs.driving_metrics``: safety first
    (a crash outweighs everything), then the headway (time under 1 s or over 3 s), then comfort."""
    time_gap = np.asarray(metrics["time_gap"])
    return float(-100.0 * metrics["collision"] - 5.0 * np.mean(time_gap < 1.0) - 1.0 * np.mean(time_gap > 3.0)
                 - 0.5 * metrics["harsh_brakes"] - 0.1 * metrics["rms_jerk"])


def _prefer(score_a: float, score_b: float) -> float:
    return 1.0 if score_a > score_b else 0.0 if score_b > score_a else 0.5


def reference_driving_labeler(clip_a, clip_b) -> float:
    """1.0 if clip A shows better driving than clip B, 0.0 if worse, 0.5 if equally good, by
    :func:`reference_driving_score` of ``driving_metrics(clip)``."""
    from ..envs import driving_metrics
    return _prefer(reference_driving_score(driving_metrics(clip_a)), reference_driving_score(driving_metrics(clip_b)))


class _ShownClip(Clip):
    """A clip that compares by value (so the checker can tell whether a student changed it) and
    prints as a one-line summary in the checker's report."""

    __hash__ = None

    def __eq__(self, other):
        return isinstance(other, Clip) and all(np.array_equal(np.asarray(getattr(self, f.name)), np.asarray(getattr(other, f.name)))
                                               for f in fields(Clip))

    def __repr__(self):
        from ..envs import driving_metrics
        m = driving_metrics(self)
        return tr("Clip({steps} steps, crash={crash}, time gap {low:.2f}-{high:.2f} s, {harsh} harsh brakes, "
                  "RMS jerk {jerk:.1f})", steps=len(self), crash=m["collision"], low=m["min_time_gap"],
                  high=m["time_gap"].max(), harsh=m["harsh_brakes"], jerk=m["rms_jerk"])


class _Scenario(gym.Wrapper):
    """Reset the wrapped env into a fixed scenario (lead speeds, ego speed, gap)."""

    def __init__(self, env, options):
        super().__init__(env)
        self.options = options

    def reset(self, **kwargs):
        return self.env.reset(seed=0, options=self.options)


def _lead(kind: str) -> np.ndarray:
    """Lead-car speeds (m/s) for ``CLIP_STEPS`` steps of 0.2 s: cruise at 20, or brake after 1 s."""
    speed = np.full(CLIP_STEPS + 1, 20.0)
    if kind != "steady":
        decel_per_step = {"hard": 1.0, "moderate": 0.5}[kind]           # 5 or 2.5 m/s²
        speed[5:] = np.maximum(20.0 - decel_per_step * np.arange(1, CLIP_STEPS - 3), 8.0 if kind == "hard" else 15.0)
    return speed


def driving_clip(driver: str, lead: str, gap: float, speed: float = 20.0):
    """One clip of ``CLIP_STEPS`` steps (shorter if it crashes) of a scripted driver in a scenario.

    ``driver``: ``"careful"`` (the default :class:`~rlft_core.envs.TimeGapController`), ``"harsh"``
    (high gains, no jerk limit), ``"tailgater"`` (0.6 s target), ``"pusher"`` (0.5 s target, high
    gains), ``"distracted"`` (never touches the pedals), ``"nervous"`` (coasts, and brakes fully
    whenever the time gap falls under 2 s). ``lead``: ``"steady"``, ``"moderate"`` or
    ``"hard"`` braking after 1 s.
    """
    from ..clips import record_clips
    from ..envs import TIME_GAP_SCALE, CarFollowingEnv, TimeGapController
    drivers = {"careful": TimeGapController(), "harsh": TimeGapController(gain_gap=1.0, gain_speed=3.0, max_jerk=100.0),
               "tailgater": TimeGapController(time_gap=0.6),
               "pusher": TimeGapController(time_gap=0.5, gain_gap=0.6, gain_speed=0.3, max_jerk=10.0),
               "distracted": lambda obs: np.zeros(1, dtype=np.float32),
               "nervous": lambda obs: np.array([-1.0 if obs[4] * TIME_GAP_SCALE < 2.0 else 0.0], dtype=np.float32)}
    if driver not in drivers:
        raise ValueError(f"driver must be one of {sorted(drivers)}, got {driver!r}")
    options = {"lead_speed": _lead(lead), "speed": speed, "gap": gap}
    factory = lambda: _Scenario(CarFollowingEnv(max_steps=CLIP_STEPS), options)   # noqa: E731
    clip = record_clips(factory, drivers[driver], n_clips=1, clip_len=CLIP_STEPS, seed=0)[0]
    return _ShownClip(**{f.name: getattr(clip, f.name) for f in fields(Clip)})


def driving_labeler_cases() -> list[Case]:
    """The pairs of the checker, each with an answer every careful driver agrees on."""
    crash = driving_clip("distracted", "hard", gap=30.0)
    harsh_safe = driving_clip("harsh", "hard", gap=36.0)
    careful = driving_clip("careful", "steady", gap=36.0)
    # Order matters: the checker reports the first failing case, and each known mistake first
    # fails on a different case (a sign flip on the first, where every other mistake is right).
    return [
        Case(tr("smooth braking (A) vs nervous, harsh braking (B)"),
             (driving_clip("careful", "moderate", gap=36.0), driving_clip("nervous", "moderate", gap=36.0))),
        Case(tr("closing in fast (A) vs keeping the gap (B)"), (driving_clip("pusher", "steady", gap=36.0, speed=24.0), careful)),
        Case(tr("tailgating at 0.6 s (A) vs a 1.8 s gap (B)"), (driving_clip("tailgater", "steady", gap=12.0), careful)),
        Case(tr("crash (A) vs safe but harsh braking (B)"), (crash, harsh_safe)),
        Case(tr("safe but harsh braking (A) vs crash (B)"), (harsh_safe, crash)),
        Case(tr("the same clip twice"), (careful, careful)),
    ]


def _by(metric_fn):
    """A labeler that prefers the clip with the larger ``metric_fn(driving_metrics(clip))``."""
    def labeler(clip_a, clip_b):
        from ..envs import driving_metrics
        return _prefer(metric_fn(driving_metrics(clip_a)), metric_fn(driving_metrics(clip_b)))
    return labeler


def check_driving_labeler(fn) -> bool:
    """``fn(clip_a, clip_b) -> float``: 1.0 if A is the better driving, 0.0 if B is, 0.5 if equal."""
    # A label takes three values, so one case cannot tell a mistake from another criterion (any
    # labeler that disagrees on a case "matches" the flipped one): a hint needs every case to match.
    mistakes = [Mistake(m.hint, m.fn, on_every_case=True) for m in _mistakes()]
    return run_check("check_driving_labeler", fn, reference_driving_labeler, driving_labeler_cases(),
                     mistakes=mistakes, exercise="driving_labeler")


def _mistakes():
    return [     # the first one that reproduces the wrong answer gives its hint
        Mistake("a crash must outweigh everything else: check m['collision'] first (a distracted driver "
                "is perfectly smooth right up to the crash).",
                _by(lambda m: reference_driving_score({**m, "collision": False}))),
        Mistake("a careful driver does not want speed for its own sake: the faster clip is often the one "
                "closing in on the lead car. Judge safety (crash, time gap) and comfort, not speed.",
                _by(lambda m: m["mean_speed"])),
        Mistake("a careful driver does not want speed for its own sake: the faster clip is often the one "
                "closing in on the lead car. Judge safety (crash, time gap) and comfort, not speed.",
                lambda a, b: float(_by(lambda m: m["mean_speed"])(a, b) == 1.0)),     # ties go to B
        Mistake("two identical clips are equally good: return 0.5 when the scores are equal.",
                lambda a, b: 1.0 if reference_driving_labeler(a, b) == 0.5 else reference_driving_labeler(a, b)),
        Mistake("comfort counts too: with equal safety, prefer fewer harsh brakes (m['harsh_brakes']) and "
                "less jerk (m['rms_jerk']).",
                _by(lambda m: reference_driving_score({**m, "harsh_brakes": 0, "rms_jerk": 0.0}))),
        Mistake("the answer is the wrong way round: return 1.0 when clip A is the *better* one.",
                lambda a, b: 1.0 - reference_driving_labeler(a, b)),
    ]
