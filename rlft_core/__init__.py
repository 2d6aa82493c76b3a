"""rlft_core: the reference implementations behind the rlft-course notebooks.

One concept per module; submodules load on first use (``rlft_core.ppo``), so importing the package
stays fast. The map, in the order the course meets them:

RL foundations
    ``returns``        discounted returns and GAE (notebooks 02, 04)
    ``tabular``        Q-learning and SARSA on toy-text environments (02)
    ``reinforce``      REINFORCE with a learned baseline, gradient variance (03)
PPO
    ``ppo_losses``     clipped surrogate, value loss, entropy, approximate KL, clip fraction (04)
    ``policies``       actor-critic networks, running normaliser, save / load (04, 07)
    ``rollout``        rollouts on gymnasium vector envs (autoreset, truncation), evaluation (07)
    ``ppo``            ``PPOConfig``, ``ppo_update`` (the one update) and ``train_ppo`` (03, 04, 07)
Preferences and reward models
    ``preferences``    pair datasets and Bradley–Terry labelers that play the human (05, 06)
    ``reward_model``   Bradley–Terry loss, reward models for clips and sequences (05, 06, 07)
    ``envs``           the car-following environment of the case study (06)
    ``clips``, ``mountain_car``, ``pbrl``   preference-based RL from trajectory clips (07)
Language models
    ``tiny_lm``        word tokenizer, tiny GPT, sampling, token log-probabilities (08)
    ``review_language``  a synthetic review language with a hidden true reward (08, 10, 11)
    ``dpo``            DPO / IPO losses, the KL-regularised optimum, the DPO trainer (05, 08)
    ``rlhf``           SFT, preference data, token reward model, best-of-n, evaluation (08)
    ``rlhf_ppo``       PPO for the LM with a per-token KL penalty (08)
    ``rlhf_pipeline``  the whole pipeline in one call (bench, tests)
    ``overoptimization``  reward over-optimisation measured on one pool of samples (10)
Critic-free RL on verifiable rewards
    ``grpo``           group advantages (GRPO, RLOO, Dr. GRPO), KL estimators k1/k2/k3, the GRPO loss (12)
    ``arithmetic``     two-digit addition: tokenizer, exact-match reward, a flawed SFT corpus, pass@k (12)
    ``grpo_train``     ``GRPOConfig``, ``train_grpo`` and expert iteration on the tiny GPT (12)
Course machinery
    ``widgets``        explorers, live plots, labelling UI;  ``exercises``  checkers and hints
    ``utils``          seeding, ``show_source``, ``doctor``;  ``_validate``  argument checks
    ``i18n``           ``set_language("zh")``: messages, hints, widget labels and quizzes in Chinese
"""
import importlib

from .i18n import get_language, set_language
from .utils import doctor, seed_everything, show_source

__version__ = "0.1.0"
__all__ = ["doctor", "get_language", "seed_everything", "set_language", "show_source"]


def __getattr__(name):
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{name}":
            raise AttributeError(f"module 'rlft_core' has no attribute or submodule {name!r}") from None
        raise
