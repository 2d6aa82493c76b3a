"""The driving-labeler checker: the reference and other sound labelers pass, a stub is "not
attempted", and each well-known wrong labeler fails with its own hint."""
import numpy as np
import pytest

from rlft_core.envs import driving_metrics, true_driving_reward
from rlft_core.exercises.driving import (check_driving_labeler, driving_clip, driving_labeler_cases,
                                         reference_driving_labeler, reference_driving_score)


def _prefer(a, b):
    return 1.0 if a > b else 0.0 if b > a else 0.5


def true_return_labeler(clip_a, clip_b):
    """Sound, and independent of the reference: the sum of the hidden true reward over each clip."""
    def total(clip):
        m = driving_metrics(clip)
        collision = np.zeros(len(m["time_gap"]))
        collision[-1] = m["collision"]
        return true_driving_reward(m["time_gap"], m["accel"], m["jerk"], collision).sum()
    return _prefer(total(clip_a), total(clip_b))


def lexicographic_labeler(clip_a, clip_b):
    """Sound: crash, then tailgating, then harsh brakes, then jerk."""
    key = lambda m: (-m["collision"], -np.mean(m["time_gap"] < 1.0), -m["harsh_brakes"], -m["rms_jerk"])  # noqa: E731
    return _prefer(key(driving_metrics(clip_a)), key(driving_metrics(clip_b)))


def stub(clip_a, clip_b):
    raise NotImplementedError()


def prefers_speed(clip_a, clip_b):
    return 1.0 if driving_metrics(clip_a)["mean_speed"] > driving_metrics(clip_b)["mean_speed"] else 0.0


def flipped(clip_a, clip_b):
    return 1.0 - reference_driving_labeler(clip_a, clip_b)


def ignores_collisions(clip_a, clip_b):
    score = lambda m: -3 * np.mean(m["time_gap"] < 1.0) - m["harsh_brakes"] - 0.2 * m["rms_jerk"]  # noqa: E731
    return _prefer(score(driving_metrics(clip_a)), score(driving_metrics(clip_b)))


def no_ties(clip_a, clip_b):
    scores = [reference_driving_score(driving_metrics(c)) for c in (clip_a, clip_b)]
    return 1.0 if scores[0] >= scores[1] else 0.0


def ignores_comfort(clip_a, clip_b):
    score = lambda m: -100 * m["collision"] - np.mean(m["time_gap"] < 1.0)  # noqa: E731
    return _prefer(score(driving_metrics(clip_a)), score(driving_metrics(clip_b)))


@pytest.mark.parametrize("labeler", [reference_driving_labeler, true_return_labeler, lexicographic_labeler])
def test_sound_labelers_pass(labeler, capsys):
    assert check_driving_labeler(labeler) is True
    assert "✅" in capsys.readouterr().out


def test_stub_is_reported_as_not_attempted(capsys):
    assert check_driving_labeler(stub) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("labeler, case, hint", [
    (prefers_speed, "closing in fast", "speed for its own sake"),
    (flipped, "smooth braking", "wrong way round"),
    (ignores_collisions, "crash (A)", "crash must outweigh"),
    (no_ties, "the same clip twice", "equally good"),
    (ignores_comfort, "smooth braking", "comfort counts"),
])
def test_known_mistakes_fail_with_their_hint(labeler, case, hint, capsys):
    assert check_driving_labeler(labeler) is False
    out = capsys.readouterr().out
    assert f"wrong on case '{case}" in out and hint in out


def test_a_labeler_that_raises_is_reported_not_raised(capsys):
    assert check_driving_labeler(lambda a, b: a.no_such_field) is False
    assert "raised AttributeError" in capsys.readouterr().out


def test_case_answers_agree_with_the_true_reward_of_the_clips():
    """The 'known outcomes' are not just the reference's taste: the hidden true return of each
    clip (summed env rewards) orders every pair the same way."""
    for case in driving_labeler_cases():
        clip_a, clip_b = case.args
        expected = reference_driving_labeler(clip_a, clip_b)
        assert _prefer(clip_a.rewards.sum(), clip_b.rewards.sum()) == expected, case.name


def test_scenario_clips_show_what_their_names_say():
    crash = driving_clip("distracted", "hard", gap=30.0)
    careful = driving_metrics(driving_clip("careful", "moderate", gap=36.0))
    nervous = driving_metrics(driving_clip("nervous", "moderate", gap=36.0))
    assert crash.terminated and len(crash) < 25
    assert careful["harsh_brakes"] == 0 and nervous["harsh_brakes"] >= 3 and nervous["rms_jerk"] > 5 * careful["rms_jerk"]
    assert driving_metrics(driving_clip("tailgater", "steady", gap=12.0))["mean_time_gap"] < 1.0


def test_bad_driver_name_raises():
    with pytest.raises(ValueError, match="driver"):
        driving_clip("racer", "steady", gap=30.0)


@pytest.mark.parametrize("name, criterion", [
    ("largest minimum time gap", lambda m: m["min_time_gap"]),
    ("largest mean time gap", lambda m: float(np.mean(m["time_gap"]))),
    ("least jerk", lambda m: -m["rms_jerk"]),
    ("no crash, then least jerk", lambda m: -100 * m["collision"] - m["rms_jerk"]),
    ("no crash, then the largest gap", lambda m: -100 * m["collision"] + m["min_time_gap"]),
    ("fewest harsh brakes", lambda m: -m["harsh_brakes"]),
])
def test_a_right_orientation_with_another_criterion_is_not_called_flipped(name, criterion, capsys):
    """These labelers answer 1.0 for the clip *they* think better (the right orientation); each
    disagrees with the reference somewhere, but none is 'the wrong way round' or 'wants speed'."""
    def labeler(clip_a, clip_b):
        return _prefer(criterion(driving_metrics(clip_a)), criterion(driving_metrics(clip_b)))
    assert check_driving_labeler(labeler) is False
    out = capsys.readouterr().out
    assert "wrong way round" not in out and "speed for its own sake" not in out, out
