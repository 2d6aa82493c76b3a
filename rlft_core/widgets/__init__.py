"""Interactive widgets and live training plots of the course (ipywidgets 8 + matplotlib).

Every widget works in JupyterLab, under nbval (headless: the figure is drawn once at
construction) and in exported HTML (the last drawn state), and can be driven from code: set a
control's value (``explorer.controls["eps"].value = 0.1``) or press a button
(``ui.buttons["A"].click()``) and read what was drawn (``explorer.data``, ``live.drawn``).

* :func:`clipping_explorer`, :func:`gae_explorer` (``explorers``)
* :func:`preference_loss_explorer`, :func:`kl_explorer` (``preference_explorers``); the optimum
  the KL explorer draws is :func:`rlft_core.dpo.kl_regularised_optimum`
* :func:`overoptimization_explorer` (``overoptimization``): a slider over precomputed policies on
  the proxy-vs-true reward curve
* :class:`LivePlot` (``live``): a training callback that plots metrics at a bounded rate
* :class:`PreferenceLabeller` (``labelling``): label preference pairs with buttons
* :func:`cartpole_trajectory` (``trajectories``): the GAE explorer's default trajectory
"""
from .explorers import clipping_explorer, flat_regions, gae_explorer
from .labelling import PreferenceLabeller, plot_clip
from .live import LivePlot
from .overoptimization import overoptimization_explorer
from .preference_explorers import kl_explorer, preference_loss_explorer
from .trajectories import cartpole_trajectory, heuristic_value

__all__ = ["clipping_explorer", "flat_regions", "gae_explorer", "preference_loss_explorer", "kl_explorer",
           "overoptimization_explorer", "LivePlot", "PreferenceLabeller", "plot_clip", "cartpole_trajectory",
           "heuristic_value"]
