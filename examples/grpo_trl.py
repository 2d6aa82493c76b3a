"""The course's GRPO run on two-digit addition, with TRL's ``GRPOTrainer`` instead of ``rlft_core``.

By default everything is built here, on the CPU, with nothing downloaded: a GPT-2 of the tiny
GPT's size (2 layers × 64, 4 heads) whose vocabulary is the arithmetic task's 15 characters in
the same order as ``rlft_core.arithmetic.TOKENIZER``, so the same SFT corpus (carry dropped in 60 %
of carry examples) feeds it token for token. The script fine-tunes it on that corpus with a plain
PyTorch loop, then runs ``trl.GRPOTrainer`` with the settings of ``rlft_core.grpo_train.GRPOConfig``
(32 prompts × 8 completions, lr 5e-4, loss_type "dapo", β = 0, one iteration per batch) and prints
the greedy accuracy on held-out problems before and after::

    python examples/grpo_trl.py                        # ~minutes on 2 CPU cores
    python examples/grpo_trl.py --max-steps 3 --sft-steps 10    # a smoke test

With ``--model NAME_OR_PATH`` it starts instead from a pretrained causal LM (for instance
``Qwen/Qwen2.5-0.5B-Instruct``; this one *does* download unless it is in the local cache), skips
our SFT, and rewards a completion whose first number is the sum. On one GPU add ``--bf16``.

Past one machine (the engines built for scale; none of this runs in the course):

* **Many GPUs, one node or several**: the same script under Hugging Face Accelerate,
  ``accelerate launch --config_file zero3.yaml examples/grpo_trl.py --model ...`` with a DeepSpeed
  ZeRO-3 config (parameters, gradients and optimiser state sharded across GPUs), or an FSDP config
  (``accelerate config`` writes either; TRL ships examples under ``trl/examples/accelerate_configs``).
  ``GRPOConfig.per_device_train_batch_size`` then counts completions per GPU, and groups are
  gathered across processes before the advantages are computed.
* **Fast generation**: sampling dominates GRPO's cost. ``GRPOConfig(use_vllm=True,
  vllm_mode="colocate")`` generates with vLLM inside the training processes; ``vllm_mode="server"``
  uses a separate ``trl vllm-serve --model ...`` process on its own GPUs. TRL then corrects for the
  small mismatch between vLLM's and the trainer's log-probs (``vllm_importance_sampling_correction``).
* **Many nodes**: verl (Sheng et al. 2024, "HybridFlow", https://github.com/volcengine/verl) and
  OpenRLHF (Hu et al. 2024, https://github.com/OpenRLHF/OpenRLHF) schedule actor, reference,
  rollout (vLLM / SGLang) and reward workers on a Ray cluster; both implement GRPO, RLOO,
  REINFORCE++ and DAPO with the same ideas as ``rlft_core.grpo`` (``algorithm.adv_estimator=grpo``
  in verl, ``--advantage_estimator group_norm`` in OpenRLHF).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")           # the tiny model needs no network at all

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rlft_core import arithmetic as task                # noqa: E402


def tiny_tokenizer():
    """A character tokenizer for ``transformers`` with ``rlft_core.arithmetic.TOKENIZER``'s ids."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(task.TOKENIZER.itos)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")    # one token per character
    tok.decoder = decoders.Fuse()                                                 # join without spaces
    tok.add_special_tokens(["<pad>", "<bos>", "<eos>"])
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>")


def tiny_gpt2(seed: int = 0, n_layer: int = 2, n_embd: int = 64, n_head: int = 4):
    """A GPT-2 of the tiny GPT's size, from random weights (nothing downloaded)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(task.TOKENIZER), n_positions=16, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return GPT2LMHeadModel(config)


def sft(model, problems, steps: int, batch_size: int = 128, lr: float = 5e-3, seed: int = 0):
    """Next-token cross-entropy on the completions of the flawed corpus (a plain PyTorch loop)."""
    corpus = task.sft_corpus(problems, 20_000, wrong_carry_fraction=0.6, seed=seed)
    tokens = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in corpus], batch_first=True)  # (N, L)
    labels = tokens.masked_fill(tokens == 0, -100)
    labels[:, :task.PROMPT_LENGTH] = -100                      # learn the answer, not the prompt
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(tokens), (batch_size,), generator=generator)
        loss = model(input_ids=tokens[idx], labels=labels[idx]).loss     # transformers shifts the labels
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def greedy_accuracy(model, tokenizer, problems) -> float:
    prompts = [f"{a}+{b}=" for a, b in problems]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=task.MAX_COMPLETION_LENGTH, do_sample=False,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return sum(answer_reward(t, a + b) for t, (a, b) in zip(texts, problems)) / len(problems)


def answer_reward(completion: str, target: int, exact: bool = True) -> float:
    """1.0 for the right sum: the whole completion (tiny model) or its first number (``exact=False``)."""
    if exact:
        return float(completion.strip() == str(target))
    found = re.match(r"\s*(\d+)", completion)
    return float(found is not None and int(found.group(1)) == target)


def grpo_config(output_dir: str, max_steps: int, bf16: bool = False, **overrides):
    """TRL's GRPOConfig with the course's settings (see ``rlft_core.grpo_train.GRPOConfig``)."""
    from trl import GRPOConfig

    settings = dict(output_dir=output_dir, max_steps=max_steps, learning_rate=5e-4, lr_scheduler_type="constant",
                    num_generations=8, per_device_train_batch_size=256,       # 32 prompts × 8 completions
                    max_completion_length=task.MAX_COMPLETION_LENGTH, temperature=1.0, beta=0.0,
                    loss_type="dapo", scale_rewards="group", num_iterations=1, epsilon=0.2,
                    max_grad_norm=1.0, weight_decay=0.0, warmup_steps=0, use_cpu=not torch.cuda.is_available(),
                    bf16=bf16, report_to="none", logging_steps=1, save_strategy="no", seed=0,
                    disable_tqdm=True, dataloader_num_workers=0)
    settings.update(overrides)
    return GRPOConfig(**settings)


def build_trainer(model, tokenizer, problems, max_steps: int, exact: bool = True, output_dir=None, reward_fn=None,
                  **overrides):
    """A ``trl.GRPOTrainer`` on the addition prompts with the exact-match reward (or ``reward_fn``)."""
    import datasets
    from trl import GRPOTrainer

    dataset = datasets.Dataset.from_dict({"prompt": [f"{a}+{b}=" for a, b in problems],
                                          "target": [a + b for a, b in problems]})

    def correct_sum(completions, target, **kwargs):      # TRL passes dataset columns as keyword args
        return [answer_reward(c, t, exact) for c, t in zip(completions, target)]

    args = grpo_config(output_dir or tempfile.mkdtemp(prefix="grpo_trl_"), max_steps, **overrides)
    return GRPOTrainer(model=model, reward_funcs=reward_fn or correct_sum, args=args, train_dataset=dataset,
                       processing_class=tokenizer)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a pretrained causal LM (name or path); default: tiny GPT-2")
    parser.add_argument("--max-steps", type=int, default=60, help="GRPO steps")
    parser.add_argument("--sft-steps", type=int, default=600, help="SFT steps of the tiny model")
    parser.add_argument("--eval-problems", type=int, default=256)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args(argv)

    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    train_problems, test_problems = task.split_problems()
    test_problems = test_problems[:args.eval_problems]
    if args.model is None:
        tokenizer, model = tiny_tokenizer(), tiny_gpt2()
        sft(model, train_problems, args.sft_steps)
        exact = True
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(args.model)
        exact = False
    tokenizer.padding_side = "left"                         # generation pads prompts on the left
    print(f"greedy accuracy before GRPO: {greedy_accuracy(model, tokenizer, test_problems):.3f}")
    trainer = build_trainer(model, tokenizer, train_problems, args.max_steps, exact=exact, bf16=args.bf16)
    trainer.train()
    rewards = [row["reward"] for row in trainer.state.log_history if "reward" in row]
    print(f"mean reward of the training samples, first and last step: {rewards[0]:.3f} -> {rewards[-1]:.3f}")
    print(f"greedy accuracy after {args.max_steps} GRPO steps: {greedy_accuracy(trainer.model, tokenizer, test_problems):.3f}")
    return trainer


if __name__ == "__main__":
    main()
