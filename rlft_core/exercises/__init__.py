"""Exercise checkers: ``check_X(student_fn) -> bool``, usable in a notebook cell and from pytest.

Unattempted (``NotImplementedError``): prints how to start (never the answer) and returns False;
``hint()`` then gives the idea, ``hint()`` again the formula, and only ``show_solution()`` code. Wrong: prints the
first failing case and a hint for the usual mistake. Right: says so and returns True. A checker
never raises into the notebook. ``choose(passed, student_fn, reference_fn)`` picks which function
later cells use, so a notebook always runs to the end.
"""
from ._core import Case, Mistake, choose, compare, run_check
from ._hints import hint, show_solution
from .beyond import (check_best_of_n_for_kl, check_ipo_loss, check_noisy_ceiling, reference_best_of_n_for_kl,
                     reference_noisy_ceiling)
from .driving import check_driving_labeler, reference_driving_labeler
from .lm import check_kl_shaped_rewards, check_sequence_logprobs
from .ppo_repair import buggy_ppo_loss, check_ppo_loss, reference_ppo_loss
from .preference import check_bradley_terry_loss, check_dpo_loss
from .ppo_math import check_clipped_surrogate_loss, check_gae
from .rl import (check_discounted_return, check_heuristic_policy, check_q_learning_update, check_reinforce_loss,
                 check_sarsa_update, reference_heuristic_policy)

__all__ = ["Case", "Mistake", "choose", "compare", "run_check", "hint", "show_solution", "check_discounted_return", "check_heuristic_policy",
           "check_q_learning_update", "check_sarsa_update", "check_reinforce_loss", "check_gae",
           "check_clipped_surrogate_loss", "reference_heuristic_policy", "check_bradley_terry_loss", "check_dpo_loss",
           "check_driving_labeler", "check_ipo_loss", "check_best_of_n_for_kl", "check_noisy_ceiling",
           "reference_best_of_n_for_kl", "reference_noisy_ceiling", "reference_driving_labeler",
           "check_sequence_logprobs", "check_kl_shaped_rewards", "check_ppo_loss", "buggy_ppo_loss",
           "reference_ppo_loss"]
