"""Notebook 12's checkers: right answers pass, known mistakes get their hint, stubs never see the answer."""
import pytest
import torch

from rlft_core.exercises import hint
from rlft_core.exercises._hints import _solution_from_notebook, hints_for
from rlft_core.exercises.grpo import HINTS, check_group_advantages, check_grpo_token_loss, check_k3


def stub(*args, **kwargs):
    raise NotImplementedError


def bessel(rewards, group_size, eps=1e-4):
    grouped = rewards.view(-1, group_size)
    return ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + eps)).reshape(-1)


def population(rewards, group_size, eps=1e-4):
    grouped = rewards.view(-1, group_size)
    return ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, unbiased=False, keepdim=True) + eps)).reshape(-1)


def test_group_advantages_checker_accepts_both_stds_and_says_which_trl_uses(capsys):
    assert check_group_advantages(bessel)
    assert "Bessel" in capsys.readouterr().out
    assert check_group_advantages(population)
    assert "TRL uses Bessel" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,hint", [
    (lambda r, G, eps=1e-4: (r - r.view(-1, G).mean(1).repeat_interleave(G)) / (r.std() + eps), "whole batch's standard"),
    (lambda r, G, eps=1e-4: (r - r.mean()) / (r.std() + eps), "whole batch's mean"),
    (lambda r, G, eps=1e-4: bessel(r, G, eps=0.0), "0 / 0 is NaN"),
])
def test_group_advantages_checker_names_the_usual_mistakes(wrong, hint, capsys):
    assert not check_group_advantages(wrong)
    assert hint in capsys.readouterr().out


def reference_token_loss(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length):
    from rlft_core.grpo import grpo_loss
    return grpo_loss(logp, old_logp, advantages, mask, clip_eps=clip_eps, loss_type=loss_type,
                     max_completion_length=max_completion_length)


def test_token_loss_checker_passes_the_reference_and_catches_unmasked_padding(capsys):
    assert check_grpo_token_loss(reference_token_loss)

    def unmasked(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length):
        full = torch.ones_like(mask)
        return reference_token_loss(logp, old_logp, advantages, full, clip_eps, loss_type, max_completion_length)
    assert not check_grpo_token_loss(unmasked)
    assert "padding tokens were counted" in capsys.readouterr().out


def test_token_loss_checker_catches_grpo_aggregated_like_dapo(capsys):
    def always_dapo(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length):
        return reference_token_loss(logp, old_logp, advantages, mask, clip_eps, "dapo", max_completion_length)
    assert not check_grpo_token_loss(always_dapo)
    assert "'grpo' averages each sequence" in capsys.readouterr().out


def test_k3_checker(capsys):
    assert check_k3(lambda logp, ref_logp: torch.exp(ref_logp - logp) - (ref_logp - logp) - 1)
    assert not check_k3(lambda logp, ref_logp: torch.exp(logp - ref_logp) - (logp - ref_logp) - 1)
    assert "reverse KL" in capsys.readouterr().out


def _worked_solution(name):
    """The body of the exercise's function in solutions/12 (what show_solution prints)."""
    code = _solution_from_notebook(hints_for(name))
    assert code is not None, f"no def {hints_for(name).function} in solutions/12"
    return code


@pytest.mark.parametrize("check,name", [(check_group_advantages, "group_advantages"),
                                        (check_grpo_token_loss, "grpo_token_loss"), (check_k3, "k3")])
def test_an_unattempted_exercise_says_how_to_start_without_the_solution(check, name, capsys):
    assert not check(stub)
    out = capsys.readouterr().out
    assert "not attempted" in out and "hint()" in out
    body = _worked_solution(name).splitlines()[1:]                      # the lines under the def
    solution_lines = [line.strip() for line in body if len(line.strip()) >= 12 and not line.strip().startswith("#")]
    assert solution_lines and not any(line in out for line in solution_lines)


def test_hints_come_in_two_tiers(capsys):
    for name in HINTS:
        hint(name)
        idea = capsys.readouterr().out
        hint(name)
        formula = capsys.readouterr().out
        assert HINTS[name].idea in idea and HINTS[name].formula in formula and idea != formula


def test_the_worked_solutions_pass_their_checkers():
    checkers = {"group_advantages": check_group_advantages, "grpo_token_loss": check_grpo_token_loss,
                "k3": check_k3}
    for name, checker in checkers.items():
        namespace = {"torch": torch}
        exec(_worked_solution(name), namespace)
        assert checker(namespace[hints_for(name).function])
