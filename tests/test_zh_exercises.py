"""The exercises in Chinese (``rlft_core.set_language("zh")``): every checker says how to start, reports
a failing case with its named inputs and gives its targeted hint in Chinese; ``hint()`` gives the two
Chinese tiers; ``show_solution``, ``choose``, the demo labels, "train with my version", ``doctor()`` and
``show_source`` speak Chinese too. Switched back to English, every message is the English one again.

Each Chinese message is checked against the translation of the English message that the same call
prints in English (read from the catalog), and numbers against an independent computation.
"""
import re

import gymnasium as gym
import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlft_core import doctor, i18n, set_language, show_source, utils
from rlft_core import exercises as ex
from rlft_core.exercises import _hints, ppo_math, ppo_repair
from rlft_core.exercises.demo_labels import demo_label, labels_by
from rlft_core.exercises.my_version import plot_runs, train_dpo_with_my_loss
from rlft_core.returns import gae
from test_exercises import student_reinforce
from test_exercises_demo_labels import by_score, labeller
from test_exercises_mistakes import (dpo_margin, student_clip_on_log_ratio, student_gae, student_q_returning_table,
                                     student_sarsa_returning_table)
from test_exercises_no_leak import CHECKERS, leaked, not_attempted

matplotlib.use("Agg")
ZH = i18n.catalog("zh")
CJK = re.compile(r"[\u3400-\u9fff]")
FONT = i18n.cjk_font() or "WenQuanYi Micro Hei"


@pytest.fixture
def chinese(monkeypatch):
    """Chinese for the test (plot text too, with or without a CJK font installed), English after it."""
    monkeypatch.setitem(_hints._state, "last", None)
    monkeypatch.setitem(_hints._state, "level", {})
    monkeypatch.setattr(i18n, "cjk_font", lambda: FONT)
    set_language("zh")
    try:
        yield
    finally:
        set_language("en")


def printed(capsys, call):
    capsys.readouterr()
    result = call()
    return result, capsys.readouterr().out


def hint_line(out: str) -> str:
    """The text after the last '💡 Hint: ' or '💡 提示：' of a report."""
    return re.split(r"💡 (?:Hint: |提示：)", out)[-1].rstrip("\n")


# ---------------------------------------------------------------- not attempted: how to start
@pytest.mark.parametrize("name,checker", CHECKERS, ids=[name for name, _ in CHECKERS])
def test_zh_every_unattempted_checker_says_how_to_start_in_chinese(name, checker, chinese, capsys):
    passed, out = printed(capsys, lambda: checker(not_attempted))
    start = _hints.hints_for(name.removeprefix("check_")).start
    assert passed is False
    assert f"✏️  {name}：还没有作答。" in out and ZH[start] in out and "调用 hint() 获取提示" in out
    assert start not in out and "not attempted" not in out and "Stuck?" not in out
    assert leaked(out) == [], f"{name} prints solution code before an attempt"


# ---------------------------------------------------------------- hint() in two tiers, show_solution()
@pytest.mark.parametrize("exercise", sorted(_hints._REGISTRY))
def test_zh_hint_twice_gives_the_chinese_idea_then_the_chinese_formula(exercise, chinese, capsys):
    hints = _hints.hints_for(exercise)
    _, first = printed(capsys, lambda: ex.hint(exercise))
    _, second = printed(capsys, lambda: ex.hint(exercise))
    _, third = printed(capsys, lambda: ex.hint(exercise))
    assert first.startswith(f"💡 '{exercise}' 的提示 1/2（思路）：{ZH[hints.idea]}\n") and "再次调用 hint()" in first
    assert ZH[hints.formula] not in first and hints.idea not in first
    assert second == f"💡 '{exercise}' 的提示 2/2（公式）：\n   {ZH[hints.formula]}\n"
    assert "没有更多提示" in third and "show_solution()" in third and f"solutions/{hints.notebook}.ipynb" in third
    assert leaked(first + second) == []


def test_zh_a_bare_hint_is_about_the_last_checker_run(chinese, capsys):
    ex.check_dpo_loss(not_attempted)
    _, out = printed(capsys, lambda: ex.hint())
    assert "'dpo_loss' 的提示 1/2" in out and ZH[_hints.hints_for("dpo_loss").idea] in out


def test_zh_hint_and_show_solution_before_any_checker_say_how_to_ask(chinese, capsys):
    _, asked = printed(capsys, lambda: ex.hint())
    _, shown = printed(capsys, lambda: ex.show_solution())
    assert asked.startswith("请先运行某个练习的检查器") and "hint('gae')" in asked and ", ".join(sorted(_hints._REGISTRY)) + "。" in asked
    assert "show_solution('gae')" in shown and "hint(" not in shown and CJK.search(shown)
    with pytest.raises(ValueError, match="没有名为 'gea' 的练习"):
        ex.hint("gea")


def test_zh_show_solution_headers(chinese, capsys, monkeypatch, tmp_path):
    ex.check_gae(not_attempted)
    _, out = printed(capsys, lambda: ex.show_solution())
    assert out.startswith("'gae' 的参考解答（来自 solutions/04_ppo_math.ipynb）：\n\ndef my_gae(")
    monkeypatch.setattr(_hints, "SOLUTIONS_DIR", tmp_path)
    _, out = printed(capsys, lambda: ex.show_solution("bradley_terry_loss"))
    assert out.startswith("课程软件包旁边没有 solutions/ 目录；下面是课程软件包自带的 'bradley_terry_loss' 实现，"
                          "rlft_core.reward_model.bradley_terry_loss：\n\ndef bradley_terry_loss(")


# ---------------------------------------------------------------- wrong answers: the failing case and the hint
def test_zh_wrong_answer_prints_the_failing_case_with_named_inputs_and_the_chinese_hint(chinese, capsys):
    rewards, gamma = [1.0, 2.0, 3.0], 0.5
    right = sum(gamma ** t * r for t, r in enumerate(rewards))
    undiscounted_first = lambda rewards, gamma: float(sum(gamma ** (t + 1) * r for t, r in enumerate(rewards)))  # noqa: E731
    set_language("en")
    english_hint = hint_line(printed(capsys, lambda: ex.check_discounted_return(undiscounted_first))[1])
    set_language("zh")
    passed, out = printed(capsys, lambda: ex.check_discounted_return(undiscounted_first))
    assert passed is False
    assert out.startswith("❌ check_discounted_return：在用例“三个奖励”上出错：数值不一致。\n   输入：\n")
    assert "      rewards = [1.0, 2.0, 3.0]\n      gamma   = 0.5\n" in out
    assert f"   期望：{right}\n   得到：{undiscounted_first(rewards, gamma)}\n" in out
    assert out.endswith(f"💡 提示：{ZH[english_hint]}\n") and english_hint not in out


def test_zh_wrong_answer_without_a_known_mistake_points_to_hint(chinese, capsys):
    _, out = printed(capsys, lambda: ex.check_discounted_return(lambda rewards, gamma: 42.0))
    assert "数值不一致" in out and "得到：42.0" in out and out.endswith("卡住了？调用 hint() 获取提示（第一次：思路；第二次：公式）。\n")


def student_group_advantages_without_eps(rewards, group_size, eps=1e-4):
    grouped = rewards.view(-1, group_size)
    return ((grouped - grouped.mean(1, keepdim=True)) / grouped.std(1, keepdim=True)).reshape(-1)


def student_token_loss_with_padding(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length):
    ratio = torch.exp(logp - old_logp)
    token = -torch.min(ratio * advantages[:, None], ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages[:, None])
    if loss_type == "grpo":
        return token.mean(1).mean()
    return token.sum() / (token.numel() if loss_type == "dapo" else logp.shape[0] * max_completion_length)


def student_logprobs_without_mask(logits, labels, mask):
    return torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1).sum(1)


def student_score_at_every_token(logp, ref_logp, mask, score, kl_coef):
    return (-kl_coef * (logp - ref_logp) + score[:, None]) * mask


MISTAKES = [
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, done_in_recursion=False)),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, bootstrap_last=False)),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, swap=True)),
    (ex.check_clipped_surrogate_loss, student_clip_on_log_ratio),
    (ex.check_q_learning_update, student_q_returning_table),
    (ex.check_sarsa_update, student_sarsa_returning_table),
    (ex.check_reinforce_loss, lambda logp, returns, baseline=None: student_reinforce(logp, returns, baseline, sign=-1.0)),
    (ex.check_bradley_terry_loss, lambda r_chosen, r_rejected: -F.logsigmoid(r_chosen - r_rejected)),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -beta * F.logsigmoid(dpo_margin(pc, pr, rc, rr))),
    (ex.check_ipo_loss, lambda pc, pr, rc, rr, beta: (dpo_margin(pc, pr, rc, rr) - 1 / beta) ** 2),
    (ex.check_best_of_n_for_kl, lambda kl_budget: max(n for n in range(1, 10_000) if np.log(n) <= kl_budget)),
    (ex.check_noisy_ceiling, lambda a0, f: a0 * (1 - f)),
    (ex.grpo.check_k3, lambda logp, ref_logp: logp - ref_logp),
    (ex.grpo.check_group_advantages, student_group_advantages_without_eps),
    (ex.grpo.check_grpo_token_loss, student_token_loss_with_padding),
    (ex.check_sequence_logprobs, student_logprobs_without_mask),
    (ex.check_kl_shaped_rewards, student_score_at_every_token),
]


@pytest.mark.parametrize("checker,wrong", MISTAKES, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(MISTAKES)])
def test_zh_a_classic_mistake_gets_the_chinese_translation_of_its_english_hint(checker, wrong, chinese, capsys):
    set_language("en")
    english = printed(capsys, lambda: checker(wrong))[1]
    set_language("zh")
    passed, out = printed(capsys, lambda: checker(wrong))
    assert passed is False and "💡 Hint: " in english, english
    case = re.search(r"wrong on case '(.*?)': ", english).group(1)
    case_zh = re.search(rf"^❌ {checker.__name__}：在用例“(.*?)”上出错：", out).group(1)
    assert case_zh == ZH[case] if case in ZH else CJK.search(case_zh) or case_zh == case   # "gamma = 1" stays
    assert hint_line(out) == ZH[hint_line(english)]
    inputs = lambda text: re.findall(r"^      (\w[\w\[\]]*) +=", text, re.M)  # noqa: E731
    assert inputs(out) == inputs(english) != []                            # the same inputs, named by argument


def test_zh_ppo_repair_counts_the_bugs_left_and_names_the_first_in_chinese(chinese, capsys):
    slots = dict(ppo_repair.BUG_SLOTS)
    _, out = printed(capsys, lambda: ex.check_ppo_loss(ex.buggy_ppo_loss))
    assert hint_line(out) == f"还剩 {len(slots)} 个错误。第一个（advantages）：{ZH[slots['advantages']['variance']]}"
    _, out = printed(capsys, lambda: ex.check_ppo_loss(ppo_repair.ppo_loss_variant({"ratio": "log_ratio"})))
    assert hint_line(out) == f"还剩 1 个错误。第一个（ratio）：{ZH[slots['ratio']['log_ratio']]}"
    assert "（比较的内容：结果 0 = 损失；结果 1、2、3" in out


def test_zh_group_advantages_report_says_once_what_is_compared(chinese, capsys):
    _, out = printed(capsys, lambda: ex.grpo.check_group_advantages(student_group_advantages_without_eps))
    assert "\n   （比较的内容：期望值有两个，分别用无偏（贝塞尔校正）标准差和总体标准差算出）。\n" in out


# ---------------------------------------------------------------- the report's other sentences
def test_zh_compare_says_what_differs_in_chinese(chinese):
    assert ex.compare(np.zeros(3), np.zeros(4)) == "期望形状 (3,)，实际形状 (4,)"
    assert ex.compare(np.zeros(2), np.array([0.0, np.nan])) == "你的结果中含有 NaN 或 inf"
    assert ex.compare(np.zeros(2), None) == "你的函数返回了 None（是不是忘了写 `return`？）"
    assert ex.compare(np.zeros(2), "two") == "期望得到数值，实际得到的是 str"
    assert ex.compare((np.zeros(2), np.zeros(2)), np.zeros(2)) == "期望返回由 2 个结果组成的元组，实际得到的是 ndarray"
    assert ex.compare((np.zeros(2), np.zeros(2)), (np.zeros(2), np.ones(2))) == "结果 1（数值不一致）"
    assert ex.compare((np.zeros(2), np.zeros(2)), (np.zeros(2), np.zeros(2))) is None
    set_language("en")
    assert ex.compare(np.zeros(3), np.zeros(4)) == "expected shape (3,), got shape (4,)"


def test_zh_a_function_that_hangs_raises_mutates_or_is_not_a_function(chinese, capsys):
    def hangs(x):
        while True:
            pass

    def divides(x):
        return int(x.sum()) // 0

    def mutates(x):
        x[0] = 5.0
        return x.sum()
    case = [ex.Case("一个数组", (np.ones(3),))]
    ref = lambda x: x.sum()  # noqa: E731
    _, out = printed(capsys, lambda: ex.run_check("t", hangs, ref, case, time_limit=0.3))
    assert out == "❌ t：你的函数在用例“一个数组”上运行超过了 0.3 秒，已被中止。请检查是否有永远不会结束的循环。\n"
    _, out = printed(capsys, lambda: ex.run_check("t", divides, ref, case))
    assert out.startswith("❌ t：你的函数抛出了 ZeroDivisionError：integer division or modulo by zero\n   出错的用例：“一个数组”（第 ")
    assert "（第 2 行：" not in out and "return int(x.sum()) // 0）\n   输入：\n      x = [1. 1. 1.]\n" in out
    _, out = printed(capsys, lambda: ex.run_check("t", mutates, ref, case))
    assert "数值不一致（另外，你的函数原地修改了它的输入；请改为计算一个新的数组" in out
    _, out = printed(capsys, lambda: ex.run_check("t", 3, ref, case))
    assert out == "❌ t：需要传入一个函数，实际得到的是 int。\n"


def test_zh_a_right_answer_says_so_with_the_number_of_cases(chinese, capsys):
    passed, out = printed(capsys, lambda: ex.check_gae(gae))
    assert passed is True
    assert out == f"✅ check_gae：全部 {len(ppo_math._gae_cases())} 个用例都正确。后面的单元格将使用你的函数。\n"


def test_zh_choose_says_which_function_is_used(chinese, capsys):
    def my_gae(*args):
        raise NotImplementedError()
    assert printed(capsys, lambda: ex.choose(True, my_gae, gae)) == (my_gae, "从这里开始使用你的 my_gae。\n")
    assert printed(capsys, lambda: ex.choose(False, my_gae, gae)) == (gae, "从这里开始使用参考实现 gae（你的版本还没有通过检查）。\n")
    reference = lambda *args: None  # noqa: E731
    _, out = printed(capsys, lambda: ex.choose(False, my_gae, reference))
    assert out == "从这里开始使用课程软件包中与 my_gae 对应的参考实现（你的版本还没有通过检查）。\n"


def test_zh_heuristic_policy_reports_the_measured_episode_lengths(chinese, capsys):
    env, lengths = gym.make("CartPole-v1"), []
    for seed in range(5):                                  # always push left, measured independently
        env.reset(seed=seed)
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            steps, done = steps + 1, terminated or truncated
        lengths.append(steps)
    passed, out = printed(capsys, lambda: ex.check_heuristic_policy(lambda obs: 0))
    assert passed is False
    assert out.startswith(f"❌ check_heuristic_policy：杆平均只保持直立 {np.mean(lengths):.0f} 步（各回合长度 {lengths}）；需要 200 步。\n")
    assert "💡 提示：只看杆的角度，反应太迟" in out
    passed, out = printed(capsys, lambda: ex.check_heuristic_policy(lambda obs: int(obs[2] + 0.5 * obs[3] > 0)))
    assert passed is True and out.startswith("✅ check_heuristic_policy：杆平均保持直立 ")
    _, out = printed(capsys, lambda: ex.check_heuristic_policy(lambda obs: 2))
    assert "你的策略抛出了 ValueError：动作必须是 0（向左推）或 1（向右推），实际得到的是 2" in out


def test_zh_driving_clips_print_their_measured_summary_in_chinese(chinese):
    from rlft_core.envs import driving_metrics
    from rlft_core.exercises.driving import driving_clip
    clip = driving_clip("careful", "steady", gap=36.0)
    m = driving_metrics(clip)
    assert repr(clip) == (f"Clip({len(clip)} 步，crash={m['collision']}，车头时距 {m['min_time_gap']:.2f}-"
                          f"{m['time_gap'].max():.2f} s，急刹车 {m['harsh_brakes']} 次，RMS 加加速度 {m['rms_jerk']:.1f})")


# ---------------------------------------------------------------- demo labels, my version
def test_zh_demo_labels_say_whose_labels_are_used(chinese, capsys):
    ui = labeller()
    made, out = printed(capsys, lambda: demo_label(ui, by_score))
    assert made == 6 == len(ui.labels)
    assert out.startswith("演示：没有人点击按钮，所以下面全部 6 个标注都是代码根据真实奖励生成的")
    ui = labeller()
    for button in ("B", "Skip", "A"):
        ui.buttons[button].click()
    made, out = printed(capsys, lambda: demo_label(ui, by_score))
    assert made == 0 and out == "你标注了 2 对（跳过 1 对）；下面的一切只使用你的标注。\n"
    assert (labels_by(6), labels_by(0)) == ("演示程序模拟的", "你的")


def test_zh_train_with_my_version_reports_a_stub_and_a_crash(chinese, capsys):
    runs, out = printed(capsys, lambda: train_dpo_with_my_loss(not_attempted, steps=2))
    assert runs["yours"] is None and len(runs["reference"]) >= 2
    assert out == ZH["{name} is not attempted yet: only the reference run is shown. Write it, then re-run this "
                     "cell."].format(name=ZH["DPO loss"]) + "\n" and CJK.search(out)
    runs, out = printed(capsys, lambda: train_dpo_with_my_loss(lambda *args: 1 / 0, steps=2))
    stopped = ZH["training with your {name} stopped: {error}: {message}. Only the reference run is shown."]
    assert runs["yours"] is None
    assert out == stopped.format(name=ZH["DPO loss"], error="ZeroDivisionError", message="division by zero") + "\n"


def test_zh_plot_runs_legend_and_axis_are_chinese_and_english_again_after(chinese, monkeypatch):
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    runs = {"reference": [{"step": 1, "a": 0.0}, {"step": 2, "a": 1.0}], "yours": [{"step": 1, "a": 0.5}, {"step": 2, "a": 0.2}]}

    def texts():
        fig = plot_runs(runs, "step", {"a": "A"})
        ax = fig.axes[0]
        shown = [t.get_text() for t in ax.get_legend().get_texts()], ax.get_xlabel()
        plt.close(fig)
        return shown
    assert texts() == ([ZH["reference"], ZH["yours"]], ZH["step"]) and CJK.search(ZH["reference"] + ZH["step"])
    set_language("en")
    assert texts() == (["reference", "yours"], "step")


# ---------------------------------------------------------------- doctor() and show_source
def test_zh_doctor_reports_problems_and_its_verdict_in_chinese(chinese, capsys, monkeypatch, tmp_path):
    report, out = printed(capsys, lambda: doctor())
    assert report["problems"] == [] and out.endswith("一切正常：课程环境已经准备就绪。\n")
    assert "      python: " in out                                  # the keys stay English
    settings = tmp_path / "@jupyterlab" / "apputils-extension" / "kernels-settings.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text('{\n  // the default\n  "commsOverSubshells": "enabled"\n}\n', encoding="utf-8")
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path))
    report, out = printed(capsys, lambda: doctor())
    assert report["problems"] == [ZH["JupyterLab handles widget callbacks on a second kernel thread, so slider "
                                     "redraws can come out blank: run `python tools/setup_course.py lab-settings` "
                                     "(make lab does it), then restart JupyterLab"]]
    assert out.endswith(f"问题：{report['problems'][0]}\n") and "一切正常" not in out and "PROBLEM" not in out


def test_zh_show_source_header_in_a_notebook(chinese, monkeypatch):
    import IPython.display
    shown = []
    monkeypatch.setattr(utils, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    source = show_source(gae)
    assert shown[0].data == f"`rlft_core.returns.gae` —— 来自 `returns.py`\n```python\n{source}```"
    set_language("en")
    show_source(gae)
    assert shown[1].data.startswith("`rlft_core.returns.gae` — from `returns.py`\n```python\ndef gae(")


# ---------------------------------------------------------------- English again, unchanged
def test_zh_switching_back_to_english_gives_the_english_report_byte_for_byte(chinese, capsys):
    wrong = lambda rewards, gamma: 42.0  # noqa: E731
    calls = [lambda: ex.check_discounted_return(wrong), lambda: ex.check_gae(not_attempted), lambda: ex.hint(),
             lambda: ex.check_ppo_loss(ex.buggy_ppo_loss), lambda: ex.choose(False, wrong, gae)]

    def run_all():
        _hints._state["level"].clear()
        return "".join(printed(capsys, call)[1] for call in calls)
    set_language("en")
    english = run_all()
    set_language("zh")
    chinese_text = run_all()
    set_language("en")
    assert run_all() == english != chinese_text
    assert "wrong on case 'three rewards': the values differ." in english and "6 bugs left. The first one (advantages)" in english
    assert "在用例“三个奖励”上出错" in chinese_text and "还剩 6 个错误" in chinese_text
    assert not CJK.search(english)


def test_zh_doctor_says_which_cjk_font_draws_the_plots(monkeypatch, capsys):
    from rlft_core import i18n as i18n_module
    from rlft_core import utils as utils_module
    monkeypatch.setattr(utils_module, "cjk_font", lambda: None)
    try:
        set_language("zh")
        report = doctor(verbose=False)
        assert report["language"] == "zh" and report["cjk_font"].startswith("无：图中文字保持英文")
        assert report["problems"] == [] or all("字体" not in p for p in report["problems"])
        monkeypatch.setattr(utils_module, "cjk_font", lambda: "WenQuanYi Micro Hei")
        assert doctor(verbose=False)["cjk_font"] == "WenQuanYi Micro Hei"
    finally:
        set_language("en")
    assert i18n_module.get_language() == "en"
