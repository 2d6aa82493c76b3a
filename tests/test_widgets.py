"""The widgets, driven from code: move a control or press a button, check what was drawn."""
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rlft_core.widgets import (LivePlot, PreferenceLabeller, cartpole_trajectory, clipping_explorer,  # noqa: E402
                               gae_explorer, kl_explorer, preference_loss_explorer)
from rlft_core.dpo import kl_regularised_optimum  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trajectory():
    return cartpole_trajectory(seed=1)


# -- clipping explorer ------------------------------------------------------------------------

@pytest.mark.parametrize("adv, flat_low, flat_high", [(1.0, 1.1, math.inf), (-1.0, 0.0, 0.9)])
def test_clipping_explorer_eps_moves_the_flat_region(adv, flat_low, flat_high):
    explorer = clipping_explorer(clip_eps=0.3, adv=adv / 2)
    assert explorer.n_draws == 1
    explorer.controls["adv"].value = adv
    explorer.controls["eps"].value = 0.1
    data = explorer.data
    assert data["flat_regions"] == [(pytest.approx(flat_low), flat_high)]
    ratio = data["ratio"]
    # independent: the paper's min(r A, clip(r) A) and its slope, A where unclipped-side, else 0
    expected = np.minimum(ratio * adv, np.clip(ratio, 0.9, 1.1) * adv)
    np.testing.assert_allclose(data["clipped_objective"], expected, rtol=1e-6, atol=1e-6)
    inside = (ratio > flat_low + 1e-3) & (ratio < flat_high - 1e-3)
    outside = (ratio < flat_low - 1e-3) | (ratio > flat_high + 1e-3)
    assert np.all(data["slope"][inside] == 0.0)
    np.testing.assert_allclose(data["slope"][outside], adv, rtol=1e-6)
    assert explorer.n_draws == 3


def test_clipping_explorer_batch_clip_fraction_follows_eps():
    rng = np.random.default_rng(0)
    ratios = np.exp(rng.normal(0.0, 0.15, 500))
    adv = rng.normal(size=500)
    explorer = clipping_explorer(ratios=torch.tensor(ratios), advantages=adv)
    for eps in (0.2, 0.05):
        explorer.controls["eps"].value = eps
        assert explorer.data["clip_fraction"] == pytest.approx(np.mean(np.abs(ratios - 1) > eps))
        zero_grad = [(a > 0 and r > 1 + eps) or (a < 0 and r < 1 - eps) for r, a in zip(ratios, adv)]
        assert explorer.data["zero_gradient_fraction"] == pytest.approx(np.mean(zero_grad))
        assert explorer.data["hist_counts"].sum() == np.sum(ratios <= explorer.data["hist_edges"][-1])


def test_clipping_explorer_rejects_bad_inputs():
    with pytest.raises(ValueError, match="ratios"):
        clipping_explorer(ratios=[1.0, -0.5])
    with pytest.raises(ValueError, match="clip_eps"):
        clipping_explorer(clip_eps=0.0)
    with pytest.raises(ValueError, match="advantages"):
        clipping_explorer(ratios=[1.0, 1.1], advantages=[1.0])


def test_explorer_draws_once_at_construction_and_displays_widget_and_png():
    explorer = clipping_explorer()
    assert explorer.n_draws == 1 and bytes(explorer._image.value).startswith(PNG_SIGNATURE)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "image/png" in bundle


# -- GAE explorer -----------------------------------------------------------------------------

def _naive_advantages(traj, gamma, lam, bootstrap):
    """Sum (γλ)^l δ_{t+l} forward within the episode, δ from the definition."""
    r, v = traj["rewards"], traj["values"]
    ends = np.maximum(traj["terminated"], traj["truncated"])
    T = len(r)
    delta = np.zeros(T)
    for t in range(T):
        if traj["truncated"][t]:
            next_v = gamma * traj["final_values"][t] if bootstrap else 0.0
        elif traj["terminated"][t]:
            next_v = 0.0
        else:
            next_v = gamma * (v[t + 1] if t + 1 < T else traj["last_value"])
        delta[t] = r[t] + next_v - v[t]
    adv = np.zeros(T)
    for t in range(T):
        for l in range(T - t):
            adv[t] += (gamma * lam) ** l * delta[t + l]
            if ends[t + l]:
                break
    return delta, adv


def test_gae_explorer_lambda_zero_gives_td_errors(trajectory):
    explorer = gae_explorer(trajectory)
    explorer.controls["lam"].value = 0.0
    delta, _ = _naive_advantages(trajectory, 0.99, 0.0, True)
    np.testing.assert_allclose(explorer.data["advantages"], explorer.data["td_errors"], atol=1e-10)
    np.testing.assert_allclose(explorer.data["advantages"], delta, atol=1e-10)


def test_gae_explorer_lambda_one_gives_discounted_returns_minus_values(trajectory):
    explorer = gae_explorer(trajectory, gamma=0.9)
    explorer.controls["lam"].value = 1.0
    r, v, T = trajectory["rewards"], trajectory["values"], len(trajectory["rewards"])
    returns = np.zeros(T)
    for t in range(T):        # Monte Carlo return to the episode end (+ γ^k V(final) if truncated)
        g, discount = 0.0, 1.0
        for k in range(t, T):
            g += discount * r[k]
            discount *= 0.9
            if trajectory["truncated"][k]:
                g += discount * trajectory["final_values"][k]
            if trajectory["terminated"][k] or trajectory["truncated"][k]:
                break
        returns[t] = g
    np.testing.assert_allclose(explorer.data["advantages"], returns - v, atol=1e-8)
    explorer.controls["gamma"].value = 0.5
    np.testing.assert_allclose(explorer.data["advantages"], _naive_advantages(trajectory, 0.5, 1.0, True)[1],
                               atol=1e-8)


def test_gae_explorer_truncation_toggle_changes_advantages_by_discounted_final_value(trajectory):
    gamma, lam = 0.99, 0.9
    explorer = gae_explorer(trajectory, gamma=gamma, lam=lam)
    with_bootstrap = explorer.data["advantages"].copy()
    explorer.controls["bootstrap"].value = False
    assert explorer.data["bootstrap"] is False
    without = explorer.data["advantages"]
    np.testing.assert_allclose(explorer.data["advantages_other_truncation"], with_bootstrap)
    t_trunc = int(np.flatnonzero(trajectory["truncated"])[0])
    t_term = int(np.flatnonzero(trajectory["terminated"])[0])
    bonus = gamma * trajectory["final_values"][t_trunc]
    assert bonus > 1.0
    steps_back = t_trunc - np.arange(len(without))
    expected = np.where(np.arange(len(without)) > t_term, (gamma * lam) ** steps_back * bonus, 0.0)
    np.testing.assert_allclose(with_bootstrap - without, expected, atol=1e-9)
    np.testing.assert_allclose(without, _naive_advantages(trajectory, gamma, lam, False)[1], atol=1e-9)


def test_default_trajectory_terminates_mid_way_then_is_truncated_at_the_end(trajectory):
    T = len(trajectory["rewards"])
    (t_term,) = np.flatnonzero(trajectory["terminated"])
    (t_trunc,) = np.flatnonzero(trajectory["truncated"])
    assert 5 < t_term < T - 10 and t_trunc == T - 1
    assert t_trunc - t_term == 40            # the second episode hits the 40-step time limit
    assert np.all(trajectory["rewards"] == 1.0)   # CartPole pays 1 per step, the last one included
    # the pole fell at the termination: the last observation before it is near the 12° limit
    assert abs(trajectory["observations"][t_term, 2]) > 0.1 or abs(trajectory["observations"][t_term, 0]) > 2.0


def test_gae_explorer_rejects_bad_trajectory(trajectory):
    with pytest.raises(ValueError, match="trajectory"):
        gae_explorer({"rewards": [1.0, 1.0], "values": [0.0, 0.0]})
    bad = dict(trajectory, truncated=np.full(len(trajectory["rewards"]), 0.5))
    with pytest.raises(ValueError, match="truncated"):
        gae_explorer(bad)
    with pytest.raises(ValueError, match="lam"):
        gae_explorer(trajectory, lam=1.5)


# -- preference-loss and KL explorers ---------------------------------------------------------

def test_preference_loss_explorer_larger_beta_steepens_the_loss_at_zero():
    explorer = preference_loss_explorer(beta=0.1)
    slopes = {}
    for beta in (0.1, 1.0, 3.0):
        explorer.controls["beta"].value = beta
        h, loss = explorer.data["h"], explorer.data["dpo_loss"]
        i = int(np.flatnonzero(h == 0.0)[0])
        slopes[beta] = (loss[i + 1] - loss[i - 1]) / (h[i + 1] - h[i - 1])
        # d/dh[-log σ(βh)] at 0 is -β/2; the grid step is 0.05 so the central difference is close
        assert slopes[beta] == pytest.approx(-beta / 2, rel=2e-2)
        np.testing.assert_allclose(explorer.data["grad_weight"], 1 / (1 + np.exp(beta * h)), atol=1e-12)
        assert explorer.data["h_saturation"] == pytest.approx(math.log(9) / beta)
    assert slopes[3.0] < slopes[1.0] < slopes[0.1] < 0


def test_preference_loss_explorer_ipo_minimum_and_margin_marker():
    explorer = preference_loss_explorer(beta=0.2)
    h = explorer.data["h"]
    assert h[np.argmin(explorer.data["ipo_loss"])] == pytest.approx(1 / (2 * 0.2), abs=0.05)
    explorer.controls["margin"].value = 4.0
    at = explorer.data["at_margin"]
    assert at["p_bradley_terry"] == pytest.approx(1 / (1 + math.exp(-0.2 * 4.0)))
    assert at["dpo_loss"] == pytest.approx(math.log1p(math.exp(-0.8)), rel=1e-4)
    assert "Larger β" in explorer.data["caption"]


def test_kl_explorer_optimum_is_the_tilted_reference():
    explorer = kl_explorer()
    pi_ref, rewards = explorer.data["pi_ref"], explorer.data["rewards"]
    rng = np.random.default_rng(0)
    for beta in (0.3, 1.0, 5.0):
        explorer.controls["beta"].value = beta
        tilted = pi_ref * np.exp(rewards / beta)
        np.testing.assert_allclose(explorer.data["pi_star"], tilted / tilted.sum(), rtol=1e-9)
        objective = explorer.data["objective"]
        for _ in range(50):   # no other distribution does better on E[r] - β KL
            p = rng.dirichlet(np.ones(len(pi_ref)))
            assert objective >= p @ rewards - beta * np.sum(p * np.log(p / pi_ref)) - 1e-12


def test_kl_explorer_limits_in_beta():
    explorer = kl_explorer()
    explorer.controls["beta"].value = 100.0
    np.testing.assert_allclose(explorer.data["pi_star"], explorer.data["pi_ref"], atol=0.01)
    explorer.controls["beta"].value = 0.01
    best = int(np.argmax(explorer.data["rewards"]))
    assert explorer.data["pi_star"][best] > 0.999
    assert explorer.data["expected_reward"] == pytest.approx(explorer.data["rewards"].max(), abs=1e-2)


def test_preference_and_kl_explorers_reject_bad_inputs():
    with pytest.raises(ValueError, match="beta"):
        preference_loss_explorer(beta=0.0)
    with pytest.raises(ValueError, match="margin"):
        preference_loss_explorer(margin=100.0)
    with pytest.raises(ValueError, match="labels"):
        kl_explorer(labels=["only one"])
    with pytest.raises(ValueError, match="seed"):
        cartpole_trajectory(seed=-1)


def test_kl_regularised_optimum_rejects_bad_inputs():
    with pytest.raises(ValueError, match="ref_probs"):
        kl_regularised_optimum([0.5, 0.6], [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="beta"):
        kl_regularised_optimum([0.5, 0.5], [0.0, 1.0], 0.0)


# -- live plot --------------------------------------------------------------------------------

def _ppo_record(i):
    return {"update": i, "global_step": 128 * (i + 1), "episode_returns": [float(i), float(i + 1)] if i % 2 else [],
            "mean_return": float(i) + 0.5 if i % 2 else float("nan"), "policy_loss": 0.1, "value_loss": 1.0,
            "entropy": 0.69 - i * 1e-4, "approx_kl": 0.01, "clip_fraction": 0.1, "explained_variance": 0.5,
            "sps": 1e4, "learning_rate": 3e-4}


def test_live_plot_throttles_redraws_by_wall_time():
    now = [0.0]
    live = LivePlot.for_ppo(min_interval=0.5, display=False)
    live._clock = lambda: now[0]
    for i in range(1000):               # one record every 10 ms of (fake) time
        now[0] = 0.01 * i
        assert live(_ppo_record(i)) is None          # never asks the loop to stop
    draws_during = live.n_draws
    live.close()
    assert draws_during == math.ceil(1000 * 0.01 / 0.5) and live.n_draws == draws_during + 1
    assert len(live.records) == 1000


def test_live_plot_fed_quickly_draws_far_fewer_times_than_records():
    live = LivePlot.for_ppo(min_interval=0.5, display=False)
    for i in range(1000):
        live(_ppo_record(i))
    live.close()
    assert len(live.records) == 1000 and live.n_draws <= 50


def test_live_plot_bounds_drawing_overhead():
    now = [0.0]
    live = LivePlot({"Loss": ["loss"]}, min_interval=0.0, max_overhead=0.1, display=True)
    live._clock = lambda: now[0]
    live._show = lambda: now.__setitem__(0, now[0] + 2.0)    # each draw "takes" 2 s
    for i in range(300):
        now[0] += 1.0                                          # each step takes 1 s
        live({"step": i, "loss": 1.0})
    assert live.n_draws >= 2
    assert 2.0 * (live.n_draws - 1) / now[0] <= 0.1           # drawing time stays within 10 %


@pytest.mark.parametrize("run_seconds", [1.0, 5.0, 12.0, 30.0, 120.0])
def test_live_plot_total_drawing_with_the_final_draw_stays_within_ten_percent(run_seconds):
    now = [0.0]
    live = LivePlot.for_ppo(min_interval=0.0, display=True)
    live._clock = lambda: now[0]
    draw_cost = 0.1 * len(live.panels)                        # what the plot assumes before its first draw
    live._show = lambda: now.__setitem__(0, now[0] + draw_cost)
    while now[0] < run_seconds:
        now[0] += 0.05                                        # one training step
        live(_ppo_record(0))
    live.close()                                              # the final draw
    assert live.n_draws >= 1
    assert live.draw_seconds == pytest.approx(live.n_draws * draw_cost)
    assert live.draw_seconds <= 0.1 * now[0] + 1e-9 or live.n_draws == 1


def test_live_plot_final_figure_holds_every_finite_point():
    live = LivePlot.for_ppo(min_interval=1e9, display=False)
    with live:
        for i in range(200):
            live(_ppo_record(i))
    drawn = live.drawn["Return"]
    odd = np.arange(1, 200, 2)
    np.testing.assert_array_equal(drawn["mean_return"][1], odd + 0.5)     # NaNs skipped
    np.testing.assert_array_equal(drawn["mean_return"][0], 128 * (odd + 1))
    assert len(drawn["episode_returns"][1]) == 2 * len(odd)              # list values as dots
    line = live._lines["Return", "mean_return"]
    np.testing.assert_array_equal(line.get_ydata(), odd + 0.5)
    assert len(live.drawn["Entropy"]["entropy"][1]) == 200
    assert live._repr_png_().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("preset, record", [
    ("for_reward_model", {"epoch": 3, "train_loss": 0.5, "train_accuracy": 0.8, "test_loss": 0.6, "test_accuracy": 0.7}),
    ("for_dpo", {"step": 3, "loss": 0.6, "chosen_reward": 0.1, "rejected_reward": -0.1, "margin": 0.2, "accuracy": 0.6}),
    ("for_rlhf", {"step": 3, "true_reward": 0.2, "proxy_reward": 0.9, "kl": 1.5}),
    ("for_rlhf", {"iteration": 3, "true_reward": 0.2, "score": 0.9, "kl": 1.5}),   # rlft_core.rlhf_ppo's keys
])
def test_live_plot_presets_draw_every_key_of_their_training_loop(preset, record):
    live = getattr(LivePlot, preset)(display=False)
    live(dict(record, unrelated_key="ignored"))
    live({"step": 4})                  # a record missing keys is fine
    live.close()
    drawn = {key: xy for panel in live.drawn.values() for key, xy in panel.items()}
    drawn = {key: xy for key, xy in drawn.items() if len(xy[1])}
    assert set(drawn) == set(record) - {"epoch", "step", "iteration"}
    for key, (xs, ys) in drawn.items():
        assert list(ys) == [record[key]] and list(xs) == [3.0]


def test_live_plot_progress_bar_follows_the_x_key():
    live = LivePlot.for_ppo(total=128 * 50, display=False)
    for i in range(50):
        live(_ppo_record(i))
    assert live.bar.n == 128 * 50
    live.close()


def test_live_plot_rejects_bad_inputs():
    with pytest.raises(ValueError, match="panels"):
        LivePlot({})
    with pytest.raises(ValueError, match="min_interval"):
        LivePlot({"Loss": ["loss"]}, min_interval=-1)
    with pytest.raises(ValueError, match="total"):
        LivePlot({"Loss": ["loss"]}, total=0)
    with pytest.raises(ValueError, match="record"):
        LivePlot({"Loss": ["loss"]}, display=False)([1.0])


# -- preference labeller ----------------------------------------------------------------------

def _token_labeller():
    a = [[1, 2, 3], [4, 5], [6], [7, 8]]
    b = [[9], [10, 11, 12, 13], [14, 15], [16]]
    return PreferenceLabeller(a, b), a, b


def test_labeller_a_b_tie_skip_build_the_pairs():
    ui, a, b = _token_labeller()
    ui.buttons["A"].click()
    ui.buttons["B"].click()
    ui.buttons["Tie"].click()
    ui.buttons["Skip"].click()
    assert ui.done and ui.labels == [(0, "A"), (1, "B"), (2, "tie")]
    chosen, rejected, _, tie = ui.pairs()
    assert chosen == [a[0], b[1], a[2]] and rejected == [b[0], a[1], b[2]] and tie == [False, False, True]
    data = ui.dataset()
    assert len(data) == 3 and data.chosen.shape == (3, 4) and data.rejected.shape == (3, 2)
    assert data.tie.tolist() == [False, False, True]
    assert data.chosen[1].tolist() == [10, 11, 12, 13] and data.chosen_mask[1].all()
    assert data.chosen[0].tolist() == [1, 2, 3, 0] and data.chosen_mask[0].tolist() == [True, True, True, False]
    assert data.rejected[1].tolist() == [4, 5] and data.rejected_mask[0].tolist() == [True, False]


def test_labeller_undo_removes_the_last_label_and_shows_that_pair_again():
    ui, a, b = _token_labeller()
    ui.buttons["A"].click()
    ui.buttons["B"].click()
    ui.buttons["Undo"].click()
    assert ui.labels == [(0, "A")] and ui.position == 1
    ui.buttons["Skip"].click()
    ui.buttons["Undo"].click()
    assert ui.position == 1 and len(ui.dataset()) == 1
    assert ui._progress.value == 1 and "1 labelled" in ui._status.value


def test_labeller_escapes_text_and_plots_trajectory_clips():
    evil = "<script>alert('x')</script> & more"
    ui = PreferenceLabeller([evil], ["fine"], prompts=["<b>prompt</b>"], encode=lambda s: [ord(c) for c in s])
    shown = ui._views["A"].children[1].value
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "&amp; more" in shown
    assert "&lt;b&gt;prompt" in ui._prompt.value
    ui.buttons["B"].click()
    data = ui.dataset()
    assert data.chosen[0].tolist() == [ord(c) for c in "fine"] and data.prompt.shape[0] == 1
    clips = [np.random.default_rng(i).normal(size=(10, 4)) for i in range(2)]
    ui = PreferenceLabeller(clips[:1], clips[1:])
    assert bytes(ui._views["A"].children[1].value).startswith(PNG_SIGNATURE)
    ui.buttons["B"].click()
    np.testing.assert_allclose(ui.dataset().chosen[0].numpy(), clips[1])


def test_labeller_rejects_bad_inputs():
    with pytest.raises(ValueError, match="items_a"):
        PreferenceLabeller([[1]], [[1], [2]])
    with pytest.raises(ValueError, match="no pairs labelled"):
        PreferenceLabeller([[1]], [[2]]).dataset()
    ui = PreferenceLabeller(["text"], ["other"])
    ui.buttons["A"].click()
    with pytest.raises(ValueError, match="encode"):
        ui.dataset()
    with pytest.raises(ValueError, match="choice"):
        ui.label("maybe")


# -- fast redraws: artists updated in place, programmatic changes synchronous, drags coalesced ---

def _pixels(png):
    from PIL import Image
    import io
    return np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGB"), dtype=np.int16)


def test_clipping_slider_moves_the_drawn_curve_region_and_edges():
    explorer = clipping_explorer(clip_eps=0.2, adv=1.0)
    lines_before = list(explorer.axes[0].lines)
    explorer.controls["adv"].value = -1.5
    explorer.controls["eps"].value = 0.3
    assert list(explorer.axes[0].lines) == lines_before      # the same artists, new data
    ratio, drawn = explorer._clipped.get_data()
    np.testing.assert_allclose(drawn, np.minimum(-1.5 * ratio, -1.5 * np.clip(ratio, 0.7, 1.3)), atol=1e-9)
    np.testing.assert_allclose(explorer._unclipped.get_ydata(), -1.5 * ratio)
    # Â < 0: the flat region is r < 1 - ε
    assert (explorer._flat.get_x(), explorer._flat.get_width()) == (pytest.approx(0.0), pytest.approx(0.7))
    assert sorted(line.get_xdata()[0] for line in explorer._edges) == [pytest.approx(0.7), pytest.approx(1.3)]
    low, high = explorer.axes[0].get_ylim()
    assert low <= drawn.min() and drawn.max() <= high and low <= -1.5 * ratio[-1]


def test_gae_slider_updates_the_advantage_line_to_the_naive_sum(trajectory):
    explorer = gae_explorer(trajectory)
    explorer.controls["gamma"].value = 0.7
    explorer.controls["lam"].value = 0.5
    delta, adv = _naive_advantages(trajectory, 0.7, 0.5, True)
    np.testing.assert_allclose(explorer._adv.get_ydata(), adv, atol=1e-9)
    np.testing.assert_allclose(explorer._td.get_ydata(), delta, atol=1e-9)
    np.testing.assert_allclose(explorer._adv_other.get_ydata(), _naive_advantages(trajectory, 0.7, 0.5, False)[1],
                               atol=1e-9)
    low, high = explorer.axes[1].get_ylim()
    assert low <= min(delta.min(), adv.min()) and max(delta.max(), adv.max()) <= high


def test_kl_slider_sets_the_bar_heights_to_the_tilted_reference():
    explorer = kl_explorer()
    explorer.controls["beta"].value = 0.5
    pi_ref, rewards = explorer.data["pi_ref"], explorer.data["rewards"]
    tilted = pi_ref * np.exp(rewards / 0.5)
    np.testing.assert_allclose([bar.get_height() for bar in explorer._bars], tilted / tilted.sum(), rtol=1e-9)
    assert explorer._beta_line.get_xdata()[0] == pytest.approx(0.5)


def test_preference_sliders_update_loss_curve_saturation_and_markers():
    explorer = preference_loss_explorer(beta=0.1)
    explorer.controls["beta"].value = 2.0
    explorer.controls["margin"].value = -3.0
    h, loss = explorer._lines[0].get_data()
    np.testing.assert_allclose(loss, np.logaddexp(0.0, -2.0 * h), atol=1e-9)      # -log σ(2h)
    np.testing.assert_allclose(explorer._lines[2].get_ydata(), (h - 0.25) ** 2, atol=1e-9)
    assert explorer._saturated[0].get_x() == pytest.approx(math.log(9) / 2.0)
    assert explorer._margins[0].get_xdata()[0] == -3.0
    x, p = explorer._bt_point.get_data()
    assert x[0] == pytest.approx(-6.0) and p[0] == pytest.approx(1 / (1 + math.exp(6.0)))


def test_blitted_figure_matches_a_full_render_and_changes_with_the_slider():
    explorer = gae_explorer()
    first = _pixels(explorer._png)
    explorer.controls["lam"].value = 0.5                  # limits stay: only the dynamic artists are drawn
    assert explorer.n_full_draws == 1
    blitted = _pixels(explorer._png)
    assert np.mean(np.any(blitted != first, axis=2)) > 0.002     # the curves moved
    for artist in explorer.dynamic:                        # render everything in one ordinary draw
        artist.set_animated(False)
    explorer.canvas.draw()
    from rlft_core.widgets._figure import canvas_png
    full = _pixels(canvas_png(explorer.canvas))
    assert np.mean(np.any(np.abs(blitted - full) > 8, axis=2)) < 0.01


def test_programmatic_change_inside_a_running_event_loop_redraws_synchronously():
    import asyncio
    explorer = kl_explorer()

    async def set_from_code():                            # a notebook cell runs inside the kernel's loop
        draws = explorer.n_draws
        explorer.controls["beta"].value = 0.2
        assert explorer.n_draws == draws + 1 and explorer.data["beta"] == pytest.approx(0.2)

    asyncio.run(set_from_code())


def test_browser_events_are_coalesced_to_the_latest_value():
    import asyncio
    explorer = kl_explorer()
    values = [0.3, 0.5, 0.8, 1.3, 2.0]

    async def drag():
        draws = explorer.n_draws
        for beta in values:                               # a burst of messages from the slider
            explorer.controls["beta"].set_state({"value": beta})
        assert explorer.n_draws == draws                  # nothing drawn yet: only scheduled
        await asyncio.sleep(0.01)
        assert explorer.n_draws == draws + 1              # one redraw for the burst ...
        return explorer.data["beta"]

    assert asyncio.run(drag()) == pytest.approx(values[-1])    # ... of the last value
    tilted = explorer.data["pi_ref"] * np.exp(explorer.data["rewards"] / values[-1])
    np.testing.assert_allclose([bar.get_height() for bar in explorer._bars], tilted / tilted.sum(), rtol=1e-9)
    draws = explorer.n_draws                              # no event loop (a plain script): drawn at once
    explorer.controls["beta"].set_state({"value": 0.1})
    assert explorer.n_draws == draws + 1 and explorer.data["beta"] == pytest.approx(0.1)


def test_nice_limits_cover_the_data_and_keep_the_current_limits_while_they_fit():
    from rlft_core.widgets._figure import nice_limits
    rng = np.random.default_rng(0)
    for _ in range(200):
        low, high = sorted(rng.normal(0, 10 ** rng.uniform(-2, 3), 2))
        limits = nice_limits(low, high)
        assert limits[0] <= low and high <= limits[1] and limits[1] - limits[0] <= 4 * (high - low) + 1e-9
    assert nice_limits(0.1, 0.9, current=(0.0, 1.0)) == (0.0, 1.0)
    assert nice_limits(0.1, 0.2, current=(0.0, 1.0)) != (0.0, 1.0)      # the data shrank: zoom in
    assert nice_limits(0.1, 1.2, current=(0.0, 1.0)) != (0.0, 1.0)      # the data left: zoom out


def test_canvas_png_decodes_to_the_canvas_pixels():
    from rlft_core.widgets._figure import canvas_png
    explorer = kl_explorer()
    explorer.controls["beta"].value = 0.4
    rgba = np.asarray(explorer.canvas.buffer_rgba())
    png = canvas_png(explorer.canvas)
    assert png.startswith(PNG_SIGNATURE) and bytes(explorer._image.value) == png
    np.testing.assert_array_equal(_pixels(png), rgba[:, :, :3])      # Pillow reads back the same pixels


def test_labeller_has_a_static_html_view_of_the_pair_on_show_escaped():
    from rlft_core.widgets import PreferenceLabeller
    ui = PreferenceLabeller(["<script>alert(1)</script> great", "second a"], ["fine", "second b"],
                            prompts=["phone", "laptop"])
    bundle = ui._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle      # the live widget stays first
    page = bundle["text/html"]
    assert "&lt;script&gt;" in page and "<script>" not in page and "phone" in page and "fine" in page
    ui.label("B")
    assert "second a" in ui.static_html() and "laptop" in ui.static_html() and "1 labelled" in ui.static_html()
    ui.label("A")
    assert "Done" in ui.static_html() and "2 pairs labelled" in ui.static_html()
