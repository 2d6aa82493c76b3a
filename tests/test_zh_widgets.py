"""The widgets in Chinese: after ``set_language("zh")`` their controls, legends, titles, axis labels,
captions and status lines, read back from the built widget and figure, are Chinese (with the numbers
the widget computed), the keys code uses stay English, and the same calls in English are unchanged."""
import math
import re
import warnings

import numpy as np
import pytest

from rlft_core import i18n
from rlft_core.widgets import (LivePlot, PreferenceLabeller, clipping_explorer, gae_explorer, kl_explorer,
                               overoptimization_explorer, plot_clip, preference_loss_explorer)
from rlft_core.widgets._figure import new_figure
from rlft_core.widgets.grpo_explorers import group_advantage_explorer, loss_aggregation_explorer

CJK = re.compile(r"[\u3400-\u9fff]")
FONT = i18n.cjk_font()          # the CJK font installed here, if any


@pytest.fixture
def zh(monkeypatch):
    """Chinese, with plot text translated: the installed CJK font, or a stand-in name when there is
    none (the figure's text is what these tests read, not its pixels)."""
    monkeypatch.setattr(i18n, "cjk_font", lambda: FONT or "WenQuanYi Micro Hei")
    try:
        i18n.set_language("zh")
        yield
    finally:
        i18n.set_language("en")


def legend(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _batch():
    rng = np.random.default_rng(0)
    return np.exp(rng.normal(0.0, 0.25, 300)), rng.normal(size=300)


def test_zh_clipping_explorer_speaks_chinese_with_its_numbers(zh):
    ratios, advantages = _batch()
    explorer = clipping_explorer(ratios, advantages, clip_eps=0.2, adv=1.0)
    assert explorer.controls["adv"].description == "优势 Â" and explorer.controls["eps"].description == "ε"
    left, right = explorer.axes
    assert legend(left) == ["未截断  r·Â", "截断  min(r·Â, clip(r)·Â)", "平坦：梯度为零"]
    assert (left.get_xlabel(), left.get_ylabel(), left.get_title()) == (
        "概率比 r = π_new / π_old", "目标（最大化）", "单个样本的目标（点线：1 ± ε）")
    assert right.get_title() == "这批的 300 个概率比（灰色：被截断）" and right.get_ylabel() == "样本数"
    # the caption's numbers, computed here from the batch
    clipped = np.mean(np.abs(ratios - 1) > 0.2)
    flat = np.mean(((advantages > 0) & (ratios > 1.2)) | ((advantages < 0) & (ratios < 0.8)))
    caption = explorer.data["caption"]
    assert caption.startswith("ε = 0.20，Â = +1.0。平坦区域（该样本梯度为零的区间）：r > 1.20（Â > 0：")
    assert f"这批 300 个样本：截断比例 <b>{clipped:.3f}</b>，零梯度比例 <b>{flat:.3f}</b>。" in caption
    explorer.controls["adv"].value = 0.0
    assert "平坦区域（该样本梯度为零的区间）：无（Â = 0 时完全没有梯度）。" in explorer.data["caption"]
    explorer.controls["adv"].value = -1.0
    assert "r < 0.80（Â < 0：已让该动作的概率降低得足够多）" in explorer.data["caption"]


def test_zh_gae_explorer_names_termination_truncation_and_the_bootstrap(zh):
    explorer = gae_explorer()
    traj = explorer.trajectory
    assert explorer.controls["bootstrap"].description == "截断时自举 γ·V(final)"
    top, bottom = explorer.axes
    assert legend(top) == ["终止", "截断", "奖励 r_t", "价值 V(s_t)", "λ-回报（价值目标）"]
    assert legend(bottom) == ["TD 误差 δ_t", "GAE 优势 Â_t", "切换截断选项后的 Â_t"]
    assert (top.get_title(), bottom.get_xlabel(), bottom.get_ylabel()) == (
        "一条轨迹：奖励、价值与价值目标", "时间步 t", "优势")
    t = int(np.flatnonzero(traj["truncated"])[-1])
    bonus = 0.99 * traj["final_values"][t]
    assert explorer.data["caption"] == (
        f"γ = 0.99，λ = 0.95，截断处使用自举。在被截断的第 t = {t} 步，自举给 Â 加上 γ·V(final) = {bonus:.2f}；"
        "每往前一步，这一变化就乘以 γλ 而衰减。λ = 0：Â = δ（TD(0)）；λ = 1：Â = 折扣回报 − V。")
    explorer.controls["bootstrap"].value = False
    assert explorer.data["caption"].startswith("γ = 0.99，λ = 0.95，截断处不使用自举。")


def test_zh_preference_loss_explorer_caption_carries_the_dpo_numbers(zh):
    explorer = preference_loss_explorer(beta=0.5, margin=3.0)
    ax_loss, ax_weight, ax_ipo, ax_bt = explorer.axes
    assert [ax.get_title() for ax in explorer.axes] == [
        "DPO 损失 −log σ(βh)", "梯度权重 σ(−βh)", "IPO 损失 (h − 1/(2β))²", "Bradley–Terry P(y_w ≻ y_l) = σ(Δr)"]
    assert legend(ax_loss) == ["β = 0.1", "β = 1.0", "滑块的 β", "饱和（权重 < 0.1）"]
    assert ax_bt.get_xlabel() == "奖励差 r(y_w) − r(y_l)" and legend(ax_ipo) == ["目标 h = 1/(2β)"]
    beta, h = explorer.data["beta"], 3.0
    loss = math.log1p(math.exp(-beta * h))                      # −log σ(βh)
    weight = 1 / (1 + math.exp(beta * h))                       # σ(−βh)
    caption = explorer.data["caption"]
    assert caption.startswith(f"h = +3.0 时：DPO 损失 {loss:.3f}，梯度权重 {weight:.3f}，隐式奖励差 βh = {beta * h:.3g}。")
    assert f"ln 9 / β = {math.log(9) / beta:.3g}" in caption and f"1/(2β) = {1 / (2 * beta):.3g}。" in caption
    assert "<b>β 越大，在越小的对数比差处就饱和" in caption


def test_zh_kl_explorer_caption_and_axes(zh):
    explorer = kl_explorer(beta=1.0)
    ax_bars, ax_curve = explorer.axes
    assert (ax_bars.get_ylabel(), ax_bars.get_title()) == ("概率", "参考策略与最优策略")
    assert (ax_curve.get_xlabel(), ax_curve.get_title()) == ("β（KL 系数）", "β 小：奖励更高，离 π_ref 更远")
    pi = explorer.ref_probs * np.exp(explorer.rewards)
    pi /= pi.sum()                                              # π* ∝ π_ref·exp(r/β) at β = 1
    kl = float(np.sum(pi * np.log(pi / explorer.ref_probs)))
    assert explorer.data["caption"] == (
        f"β = 1：E[r] = {pi @ explorer.rewards:.3f}，KL(π*‖π_ref) = {kl:.3f} 奈特。"
        "β → ∞ 时保持 π_ref；β → 0 时把全部概率放在奖励最高的回复上。")


def test_zh_grpo_explorers(zh):
    explorer = group_advantage_explorer((1.0, 0.0, 0.0, 1.0, 0.0, 0.0))
    (ax,) = explorer.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"样本 {i}" for i in range(1, 7)]
    assert ax.get_title() == "一个提示、六个样本：优势" and legend(ax)[0] == "奖励"
    std = np.std([1, 0, 0, 1, 0, 0], ddof=1)
    assert explorer.data["caption"].startswith(f"组内标准差（贝塞尔校正）= {std:.3g}。GRPO 把中心化后的奖励除以它")
    for i in (1, 4):
        explorer.controls[f"r{i}"].value = 0.0
    assert explorer.data["caption"].startswith("六个奖励全部相同：每个优势都是 <b>0</b>")

    explorer = loss_aggregation_explorer(short=4, long=7, max_completion_length=8)
    assert [explorer.controls[k].description for k in ("short", "long", "max_completion_length")] == [
        "短 |y|", "长 |y|", "L_max"]
    assert [ax.get_xlabel() for ax in explorer.axes] == ["词元位置"] * 3
    assert explorer.axes[0].get_ylabel() == "每个词元的梯度权重" and legend(explorer.axes[0]) == ["短回答", "长回答"]
    # grpo: each answer's total weight is 1/B = 0.5; dr_grpo: |y|/(B·L_max)
    caption = explorer.data["caption"]
    assert caption.startswith("4 个词元的回答与 7 个词元的回答各自的总权重（grpo: 0.500 vs 0.500;")
    assert f"dr_grpo: {4 / 16:.3f} vs {7 / 16:.3f}）" in caption and "B·L_max = 16，与长度无关。" in caption


def test_zh_overoptimization_explorer(zh):
    runs = [{"label": "1", "kl": 0.1, "proxy": 0.2, "true": 0.0, "samples": ["<b>bold</b>"]},
            {"label": "0.1", "kl": 1.25, "proxy": 0.8, "true": 0.5}]
    explorer = overoptimization_explorer(runs)
    assert [ax.get_title() for ax in explorer.axes] == ["代理奖励 r_φ（奖励模型）", "真实奖励 r*（隐藏的人类判断）"]
    assert [ax.get_xlabel() for ax in explorer.axes] == ["KL(π ‖ π_ref)  [奈特]"] * 2
    assert legend(explorer.axes[0]) == ["各次运行", "滑块选中的运行"]
    assert explorer.data["caption"].startswith("<b>1</b>：KL = 0.10 奈特，代理奖励 = 0.20，真实奖励 = 0.00")
    assert "&lt;b&gt;bold&lt;/b&gt;" in explorer.data["caption"]          # samples still escaped
    explorer.controls["run"].value = "0.1"
    assert explorer.data["caption"] == "<b>0.1</b>：KL = 1.25 奈特，代理奖励 = 0.80，真实奖励 = 0.50"


def test_zh_a_failed_redraw_is_reported_in_chinese(zh):
    explorer = kl_explorer()

    def broken():
        raise RuntimeError("boom")
    explorer._draw = broken
    explorer._flush()
    assert explorer._caption.value == "<b>重绘失败：</b>RuntimeError(&#x27;boom&#x27;)"


def test_zh_live_plot_presets_title_their_panels_in_chinese_and_keep_english_keys(zh):
    live = LivePlot.for_ppo(display=False)
    assert [ax.get_title() for ax in live.axes.values()] == ["回报", "截断比例", "近似 KL", "熵", "解释方差", "损失"]
    for step in (0, 128, 256):
        live({"global_step": step, "mean_return": step / 10, "episode_returns": [1.0, 2.0], "approx_kl": 0.01})
    live.close()
    assert list(live.drawn) == ["Return", "Clip fraction", "Approx KL", "Entropy", "Explained variance", "Losses"]
    assert live.figure._suptitle.get_text() == "global_step = 256，共 3 条记录"
    assert [ax.get_title() for ax in LivePlot.for_dpo(display=False).axes.values()] == ["损失", "隐式奖励", "间隔", "准确率"]
    assert [ax.get_title() for ax in LivePlot.for_reward_model(display=False).axes.values()] == ["损失", "准确率"]
    assert [ax.get_title() for ax in LivePlot.for_rlhf(display=False).axes.values()] == ["奖励", "KL(π ‖ π_ref)"]
    # a panel of the student's own: a title the catalog knows is translated, any other is shown as given
    own = LivePlot({"Loss": ["loss"], "my curve": ["x"]}, display=False, title="训练 A")
    assert [ax.get_title() for ax in own.axes.values()] == ["损失", "my curve"]
    own({"step": 3, "loss": 1.0})
    own.close()
    assert own.figure._suptitle.get_text() == "训练 A — step = 3，共 1 条记录"


def test_zh_labeller_buttons_status_and_static_page(zh):
    ui = PreferenceLabeller(["a <i>", "b"], ["c", "d"], prompts=["p & q", "r"])
    assert [(name, button.description) for name, button in ui.buttons.items()] == [
        ("A", "A"), ("B", "B"), ("Tie", "平局"), ("Skip", "跳过"), ("Undo", "撤销")]
    assert ui._prompt.value == "<b>提示：</b>p &amp; q<br>哪一个更好？"
    assert ui._status.value == "已看 0/2 对：标注 0 对，跳过 0 对"
    page = ui.static_html()
    assert "a &lt;i&gt;" in page and "<p><b>提示：</b>p &amp; q<br>哪一个更好？</p>" in page
    assert "已看 0/2 对：标注 0 对，跳过 0 对。A / B / 平局 / 跳过 按钮在 JupyterLab 中运行笔记本时可用。" in page
    ui.buttons["Tie"].click()
    ui.buttons["Skip"].click()
    assert ui.history == [(0, "tie"), (1, "skip")] and ui.done
    assert ui._status.value == "已看 2/2 对：标注 1 对，跳过 1 对"
    assert ui._prompt.value == "<b>完成：</b>已标注 1 对。请调用 <code>.dataset()</code>。"
    assert "<p><b>完成：</b>已标注 1 对。</p>" in ui.static_html()
    figure, (ax,) = new_figure(1, 1, (3, 2))
    plot_clip(np.zeros((4, 2)), ax)
    assert ax.get_xlabel() == "片段内的步数" and legend(ax) == ["obs[0]", "obs[1]"]


def _english_texts():
    ratios, advantages = _batch()
    explorer = clipping_explorer(ratios, advantages)
    live = LivePlot.for_ppo(display=False)
    ui = PreferenceLabeller(["a"], ["b"], prompts=["p"])
    return ([explorer.data["caption"], explorer.controls["adv"].description, *legend(explorer.axes[0]),
             explorer.axes[1].get_title()], [ax.get_title() for ax in live.axes.values()],
            [b.description for b in ui.buttons.values()], ui._status.value, ui._prompt.value)


def test_zh_then_english_again_gives_the_english_widgets_unchanged(monkeypatch):
    before = _english_texts()
    assert before[0][1:4] == ["advantage Â", "unclipped  r·Â", "clipped  min(r·Â, clip(r)·Â)"]
    assert before[1][0] == "Return" and before[2][2:] == ["Tie", "Skip", "Undo"]
    assert before[3] == "0 of 1 pairs seen: 0 labelled, 0 skipped" and before[4] == "<b>Prompt:</b> p<br>Which one is better?"
    monkeypatch.setattr(i18n, "cjk_font", lambda: FONT or "WenQuanYi Micro Hei")
    try:
        i18n.set_language("zh")
        during = _english_texts()
    finally:
        i18n.set_language("en")
    assert CJK.search(during[0][0]) and during != before
    assert _english_texts() == before


def test_zh_plot_text_stays_english_without_a_cjk_font_while_captions_are_chinese(monkeypatch, capsys):
    monkeypatch.setattr(i18n, "cjk_font", lambda: None)
    try:
        i18n.set_language("zh")
        explorer = gae_explorer()
    finally:
        i18n.set_language("en")
    assert "未找到中文字体" in capsys.readouterr().out
    assert explorer.axes[0].get_title() == "one trajectory: rewards, values and value targets"
    assert legend(explorer.axes[1])[0] == "TD error δ_t"
    assert explorer.controls["bootstrap"].description == "截断时自举 γ·V(final)"       # text, not drawn
    assert explorer.data["caption"].startswith("γ = 0.99，λ = 0.95，截断处使用自举。")


def test_zh_figures_draw_every_chinese_glyph_from_a_real_font():
    """With the installed CJK font, drawing a Chinese figure finds every glyph (no empty boxes); where no
    CJK font is installed, plot text stays English, which the default font draws."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            i18n.set_language("zh")
            explorer = preference_loss_explorer()
            explorer.canvas.draw()
        finally:
            i18n.set_language("en")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
    title = explorer.axes[0].get_title()
    assert title == ("DPO 损失 −log σ(βh)" if FONT else "DPO loss −log σ(βh)")
