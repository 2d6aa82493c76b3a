"""rlft_core: the reference implementations behind the rlft-course notebooks.

One concept per module: ``returns`` (GAE), ``ppo`` (losses and trainer), ``reinforce``,
``tabular``, ``preferences``, ``reward_model``, ``dpo``, ``tiny_lm``, ``rlhf``, ``widgets``,
``exercises``, ``utils``. Submodules load on first use (``rlft_core.ppo``), so importing the
package stays fast.
"""
import importlib

from .utils import doctor, seed_everything, show_source

__version__ = "0.1.0"
__all__ = ["doctor", "seed_everything", "show_source"]


def __getattr__(name):
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{name}":
            raise AttributeError(f"module 'rlft_core' has no attribute or submodule {name!r}") from None
        raise
