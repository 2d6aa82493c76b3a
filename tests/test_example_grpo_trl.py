"""examples/grpo_trl.py: TRL's GRPOTrainer on a tiny GPT-2 built from the arithmetic tokenizer."""
import importlib.util
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from rlft_core import arithmetic as task

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grpo_trl.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("grpo_trl_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hf_tokenizer_gives_the_course_tokenizers_ids(example):
    tokenizer = example.tiny_tokenizer()
    for text in ("47+38=", "10+99=", "85"):
        ids = tokenizer(text)["input_ids"]
        assert ids == [task.TOKENIZER.bos_id, *task.TOKENIZER.encode(text)]
    ids = [task.TOKENIZER.bos_id, *task.TOKENIZER.encode("12+34=46"), task.TOKENIZER.eos_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "12+34=46"


def test_the_reward_checks_the_sum(example):
    assert example.answer_reward("85", 85) == 1.0
    assert example.answer_reward("75", 85) == 0.0
    assert example.answer_reward("855", 85) == 0.0
    assert example.answer_reward(" 85 because 47+38", 85, exact=False) == 1.0
    assert example.answer_reward("eighty-five", 85, exact=False) == 0.0


@pytest.mark.slow
def test_the_example_runs_three_grpo_steps_on_a_local_tiny_gpt2(example, one_thread, capsys):
    trainer = example.main(["--max-steps", "3", "--sft-steps", "5", "--eval-problems", "16"])
    assert trainer.state.global_step == 3
    logged = [row for row in trainer.state.log_history if "reward" in row]
    assert len(logged) == 3 and all(0.0 <= row["reward"] <= 1.0 for row in logged)
    assert trainer.model.config.n_layer == 2 and trainer.model.config.n_embd == 64
    assert "greedy accuracy after 3 GRPO steps" in capsys.readouterr().out


@pytest.mark.slow
def test_trl_grpo_steps_move_the_weights_when_some_answers_are_right(example, one_thread):
    """With a reward that some samples earn, TRL's update changes the model (the wiring is live)."""
    tokenizer, model = example.tiny_tokenizer(), example.tiny_gpt2()
    tokenizer.padding_side = "left"
    before = [p.detach().clone() for p in model.parameters()]
    problems = task.split_problems()[0][:64]

    def starts_with_digit(completions, **kwargs):        # a random model earns this reward now and then
        return [float(c[:1].isdigit()) for c in completions]

    trainer = example.build_trainer(model, tokenizer, problems, max_steps=1, reward_fn=starts_with_digit,
                                    per_device_train_batch_size=16)
    trainer.train()
    moved = sum(not torch.equal(b, p.detach()) for b, p in zip(before, trainer.model.parameters()))
    assert moved > 0
