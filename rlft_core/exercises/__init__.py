"""Exercise checkers: ``check_X(student_fn) -> bool``, usable in a notebook cell and from pytest.

Unattempted (``NotImplementedError``): prints how to start and returns False. Wrong: prints the
first failing case and a hint for the usual mistake. Right: says so and returns True. A checker
never raises into the notebook. ``choose(passed, student_fn, reference_fn)`` picks which function
later cells use, so a notebook always runs to the end.
"""
from ._core import Case, Mistake, choose, compare, run_check
from .driving import check_driving_labeler, reference_driving_labeler
from .lm import check_kl_shaped_rewards, check_sequence_logprobs
from .ppo_repair import buggy_ppo_loss, check_ppo_loss, reference_ppo_loss
from .preference import check_bradley_terry_loss, check_dpo_loss
from .rl import (check_clipped_surrogate_loss, check_discounted_return, check_gae, check_heuristic_policy, check_q_learning_update,
                 check_reinforce_loss, check_sarsa_update, reference_heuristic_policy)

__all__ = ["Case", "Mistake", "choose", "compare", "run_check", "check_discounted_return", "check_heuristic_policy",
           "check_q_learning_update", "check_sarsa_update", "check_reinforce_loss", "check_gae",
           "check_clipped_surrogate_loss", "reference_heuristic_policy", "check_bradley_terry_loss", "check_dpo_loss",
           "check_driving_labeler", "reference_driving_labeler", "check_sequence_logprobs", "check_kl_shaped_rewards", "check_ppo_loss", "buggy_ppo_loss", "reference_ppo_loss"]
