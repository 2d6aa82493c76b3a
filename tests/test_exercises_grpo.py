"""Notebook 12's checkers: right answers pass, known mistakes get their hint, stubs never see the answer."""
import pytest
import torch

from rlft_core.exercises.grpo import (EXERCISES, check_group_advantages, check_grpo_token_loss, check_k3, grpo_hint,
                                      grpo_show_solution)


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


@pytest.mark.parametrize("check,name", [(check_group_advantages, "group_advantages"),
                                        (check_grpo_token_loss, "grpo_token_loss"), (check_k3, "k3")])
def test_an_unattempted_exercise_says_how_to_start_without_the_solution(check, name, capsys):
    assert not check(stub)
    out = capsys.readouterr().out
    assert "not attempted" in out and f"grpo_hint('{name}', 1)" in out
    solution_lines = [line.strip() for line in grpo_show_solution(name).splitlines() if line.strip()]
    capsys.readouterr()
    assert not any(line in out for line in solution_lines)


def test_hints_come_in_two_tiers_and_reject_unknown_names(capsys):
    for name in EXERCISES:
        assert grpo_hint(name, 1) != grpo_hint(name, 2)
    with pytest.raises(ValueError, match="name"):
        grpo_hint("gae")
    with pytest.raises(ValueError, match="tier"):
        grpo_hint("k3", 3)


def test_the_shown_solutions_pass_their_checkers():
    namespace = {"torch": torch}
    signatures = {"group_advantages": "rewards, group_size, eps=1e-4",
                  "grpo_token_loss": "logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length",
                  "k3": "logp, ref_logp"}
    for name, args in signatures.items():
        body = "\n".join("    " + line for line in grpo_show_solution(name).splitlines())
        exec(f"def solution({args}):\n{body}", namespace)
        checker = {"group_advantages": check_group_advantages, "grpo_token_loss": check_grpo_token_loss,
                   "k3": check_k3}[name]
        assert checker(namespace["solution"])
