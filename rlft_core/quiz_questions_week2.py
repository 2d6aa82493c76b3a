"""Multiple-choice questions of notebooks 06-12 (see :mod:`rlft_core.quiz_questions`)."""
from __future__ import annotations

from ._quiz_types import Question

Q = Question
WEEK2: dict[str, list[Question]] = {
    "06": [
        Q("PPO trained on the hand-written reward v/20 − 50·[crash] learned to tailgate. Why?",
          ("The reward pays for speed and says nothing about a short gap until the crash itself.",
           "PPO cannot handle continuous actions.", "The reward model over-fitted the comparisons."), 0,
          "Closing the gap means driving faster than the lead car, which the reward pays for. A reward that "
          "says only \"fast, don't crash\" is silent about headway and comfort, and the optimiser exploits the "
          "silence."),
        Q("How should the three PPO policies (hand-written, learned and true reward) be compared?",
          ("By the return each one reached in training.",
           "On the same held-out test episodes, by what a passenger cares about: crashes, time gap, jerk, harsh "
           "braking, the true return.",
           "By the reward model's accuracy on held-out pairs."), 1,
          "Each training return is measured in its own reward, so the curves cannot be compared; by its own "
          "reward the tailgater scores as high as the careful driver. Judge all policies on the same unseen "
          "episodes with the quantities that matter."),
        Q("Why can a reward model learned from comparisons under-weight rare crashes?",
          ("Crashes are never shown to the labeler.",
           "A comparison says which clip is worse, not how much worse: the driver picks the same clip whether "
           "a crash costs 50 or 5,000.",
           "The Bradley–Terry loss ignores ties."), 1,
          "The model only learns that a crash is bad enough to lose a comparison. Asking for labels on the "
          "current policy's clips helps; safety-critical systems add hard constraints on top."),
        Q("The constant-time-gap controller aims at a gap of 1.8 s · v. At 20 m/s, how far behind the lead car "
          "does it want to be?",
          ("1.8 m", "18 m", "36 m"), 2,
          "The time gap τ = g/v is the time to reach the lead car's current position: g = 1.8 s × 20 m/s = 36 m."),
    ],
    "07": [
        Q("On the PPO dashboard the clip fraction and the approximate KL stay near 0 for many updates while the "
          "return is still far below 500. What does that suggest?",
          ("The updates are too timid, e.g. the learning rate is too small.",
           "The policy jumps too far at every update.", "Training has converged."), 0,
          "Healthy PPO updates clip some ratios (a clip fraction of about 0.05–0.3) and move the policy by a "
          "KL of about 0.001–0.03. Near 0 on both while the return is low: the policy is barely changing."),
        Q("PPO on MountainCar-v0's own reward (−1 per step until the flag) rarely learns. Why?",
          ("PPO supports only continuous actions.",
           "Until the flag is reached every step gives −1, so all actions look the same: no learning signal.",
           "The 200-step time limit is too long."), 1,
          "Random exploration almost never reaches the flag. A reward model learned from comparisons (\"which "
          "clip swings higher\") turns the same task into a dense one, and PPO then solves it."),
        Q("The source's code computes advantage = tf.reduce_sum(model(next_state)) on a softmax output. What is "
          "wrong with it?",
          ("It should be a mean, not a sum.",
           "A softmax sums to 1, so this \"advantage\" is always 1 and says nothing about good or bad actions.",
           "It needs a stop-gradient."), 1,
          "The advantage must compare the action taken with the policy's average, e.g. GAE with a learned "
          "critic V(s). With a constant 1 the loss raises the probability of every action taken, good or bad."),
        Q("What changes when the same PPO trainer moves from CartPole (2 actions) to Pendulum (a torque)?",
          ("The loss: continuous actions need a different objective.",
           "The policy head: a Gaussian N(μ_θ(s), σ²) instead of a categorical; the clipped loss is the same.",
           "Nothing at all."), 1,
          "PPO works for discrete and continuous actions alike: only the distribution whose log-probabilities "
          "enter the ratio changes. The torque is sampled, then clipped to [−2, 2] when sent to the environment."),
        Q("What did the simulated human compare in the MountainCar preference run?",
          ("Which clip gained more mechanical energy (swings higher).",
           "Which clip ended further to the right.", "Which clip had the higher environment reward."), 0,
          "It judged the energy gained, E = sin 3x + 3v²/(2g), through a Bradley–Terry model, never revealing a "
          "number. The reward model inferred \"push the way you are moving\" from 300 comparisons."),
    ],
    "08": [
        Q("In the KL-shaped per-token reward of RLHF, where does the reward model's score r_φ(x, y) go?",
          ("On every token.", "On the last real token of the response; the KL penalty goes on every token.",
           "On the first token."), 1,
          "The reward model scores the complete response, so its score is added at the last real token; each "
          "token pays −β(log π_θ − log π_ref). Summed, the penalties estimate β·KL(π_θ ‖ π_ref)."),
        Q("Why is each token's log-probability multiplied by a mask before summing over the sequence?",
          ("Only response tokens count: prompt and padding tokens must not contribute.",
           "To average over the tokens.", "To avoid NaN in log_softmax."), 0,
          "log π(y|x) sums over the response tokens only. The prompt is given, not generated, and padding only "
          "makes the rows equally long. The result is a sum, not an average."),
        Q("Best-of-n with n = 16: what is the bound on its KL to the SFT model?",
          ("log 16 − 15/16 ≈ 1.84 nats", "16 nats", "0, because it never trains"), 0,
          "KL(π_BoN ‖ π_ref) ≤ log n − (n − 1)/n (exact for a continuous reward). Best-of-n needs no training, "
          "but pays n samples for every answer."),
        Q("A PPO policy scores at least as well as the SFT model on the objective: E_π[r_φ] − β·KL ≥ E_ref[r_φ]. "
          "What does that say about its KL?",
          ("KL ≤ (E_π[r_φ] − E_ref[r_φ]) / β", "KL = 0", "KL ≥ β"), 0,
          "The SFT model itself has KL 0, so a better policy's KL is at most the proxy reward it gained divided "
          "by β: the penalty prices drift away from the reference."),
        Q("Which of these does DPO not need?",
          ("Preference pairs", "The frozen reference model π_ref",
           "A separately trained reward model and sampling during training"), 2,
          "DPO fits the policy directly on the pairs with −log σ(β·h), using log-ratios to π_ref. Its implicit "
          "reward β·log(π_θ/π_ref) takes the place of the reward model."),
    ],
    "09": [
        Q("PPOConfig has 8 environments × 64 steps per rollout and 4 minibatches. Which Stable-Baselines3 "
          "batch_size gives the same minibatches?",
          ("4", "128", "512"), 1,
          "SB3 takes the minibatch size, not the count: 8 × 64 / 4 = 128. Its n_steps is per environment, like "
          "our num_steps."),
        Q("Our value loss is ½·MSE and SB3's is MSE. Which SB3 vf_coef reproduces our vf_coef c?",
          ("c / 2", "2·c", "c"), 0,
          "c · ½·MSE = (c/2) · MSE, so SB3 needs vf_coef = c/2 for the same update."),
        Q("\"Playing Atari with Deep Reinforcement Learning\" (Mnih et al. 2013) is the paper of which system?",
          ("AlphaGo", "DQN", "PPO"), 1,
          "It introduced the deep Q-network learning Atari games from pixels. AlphaGo is Silver et al., Nature "
          "2016; PPO is Schulman et al. 2017."),
        Q("SB3's rollout buffer stores episode_starts[t]; we store dones[t] (1 when step t ends an episode). "
          "How do they relate?",
          ("episode_starts[t] = dones[t − 1]", "episode_starts[t] = dones[t]", "episode_starts[t] = 1 − dones[t]"),
          0,
          "An episode starts at t exactly when the previous step ended one. Mixing up the conventions shifts "
          "every episode boundary by one step in GAE."),
    ],
    "10": [
        Q("A policy is optimised ever harder against a learned reward model, so its KL to π_ref grows. What did "
          "Gao, Schulman & Hilton (2023) observe?",
          ("Proxy and true reward both keep rising.",
           "The proxy keeps rising while the true reward rises, peaks and falls.", "Both fall."), 1,
          "The reward model is a proxy fitted to finite, noisy comparisons; the optimiser finds where it is "
          "wrong (Goodhart's law). We reproduce the curve on the review language."),
        Q("How should β (or n, or the number of PPO steps) be chosen?",
          ("As small as possible, to maximise the proxy reward.",
           "As large as possible, to keep the KL at 0.",
           "By checking samples with fresh human (or gold) judgements along the way, not by the proxy."), 2,
          "The proxy only ever goes up, so it cannot tell you when to stop. There is a best β, and it is not "
          "\"as small as possible\"; very large β changes nothing."),
        Q("The labeler likes longer reviews, while the true reward penalises words beyond 10. What does "
          "optimising the resulting reward model do?",
          ("It picks longer reviews: the labeler's bias becomes the reward model's, and optimisation amplifies "
           "it, while the proxy still rises.",
           "The reward model averages the bias away.", "Nothing: length does not change the true reward."), 0,
          "The reward model learns the labeler's taste, length included; best-of-n then picks reviews well "
          "past 10 words and the true reward it can reach is far lower. Nothing in the proxy curve warns."),
        Q("Which of these is a documented remedy against reward over-optimisation?",
          ("Model compression", "A KL penalty with early stopping, bigger reward models and more comparisons, "
                                "reward-model ensembles", "Multimodal fusion"), 1,
          "Gao et al. found larger reward models and more data delay and raise the peak; ensembles (Coste et al. "
          "2024) and a KL brake with held-out human evaluation are standard. The source's §8.4 ideas do not "
          "address the failure."),
    ],
    "11": [
        Q("What does gradient accumulation save?",
          ("Samples", "Memory: a large batch is processed in small pieces", "Wall-clock time"), 1,
          "The gradient of a large batch is summed over small pieces, so the peak memory is that of a piece. "
          "It needs the same samples and at least the same compute."),
        Q("In RLHF, what is the main tool against drifting away from what the SFT model knew?",
          ("The KL penalty to the reference model (plus, in InstructGPT, the PPO-ptx pretraining term)",
           "Grad-CAM", "MADDPG"), 0,
          "The per-token penalty −β(log π_θ − log π_ref) keeps the policy near the SFT model; the smaller β, the "
          "more it drifts and the worse it scores pretraining text. Grad-CAM explains CNN image classifiers; "
          "MADDPG is a multi-agent method."),
        Q("A noise-free labeler agrees with the true ordering on a₀ = 0.9 of the pairs. It now flips 20 % of its "
          "labels at random. What is the ceiling on a reward model's measured accuracy against these noisy "
          "labels?",
          ("0.90", "0.70", "0.74"), 2,
          "a_f = a₀(1 − f) + (1 − a₀)f = 0.9·0.8 + 0.1·0.2 = 0.74. Compare a reward model's measured accuracy with "
          "that ceiling before calling it bad."),
        Q("Why is DPO cheaper than PPO-based RLHF?",
          ("It needs fewer preference pairs.",
           "No reward model to train, no sampling during training and no value network: it holds a trained "
           "policy and a frozen reference.",
           "It needs no reference model."), 1,
          "PPO-RLHF holds four networks (policy and value trained; reference and reward model frozen) and "
          "samples during training. DPO is offline, so it also cannot explore beyond the given pairs."),
    ],
    "12": [
        Q("How does GRPO get an advantage for each completion without a value network?",
          ("From a critic trained beside the policy, as in PPO.",
           "It compares each completion's reward with the other completions sampled for the same prompt: "
           "(r_i − group mean) / group std.",
           "It uses the raw reward as the advantage."), 1,
          "GRPO (Shao et al. 2024, DeepSeekMath) samples a group of G completions per prompt and uses the "
          "group's own rewards as the baseline, so no value network has to be trained or held in memory."),
        Q("All G completions of one prompt get the same reward (all right, or all wrong). What do they "
          "contribute to a GRPO update?",
          ("Nothing: every advantage in the group is 0.", "A large push towards the common answer.",
           "A push away from the common answer."), 0,
          "Centring by the group mean leaves 0 for every sample, so the group carries no learning signal. As "
          "training succeeds, more and more groups are all right, which is why DAPO's dynamic sampling drops them."),
        Q("RLOO's baseline for completion i is",
          ("the mean reward of the other G − 1 completions of its prompt",
           "the mean reward of all G completions, including i", "a learned value V(s)"), 0,
          "Leaving sample i out makes the baseline independent of it, so the policy gradient stays unbiased "
          "(Kool et al. 2019; Ahmadian et al. 2024). The result equals G/(G − 1)·(r_i − group mean)."),
        Q("With ρ = π_ref(y)/π(y) on tokens sampled from π, which KL estimator is both unbiased and never "
          "negative?",
          ("k1 = −log ρ", "k2 = ½ (log ρ)²", "k3 = ρ − 1 − log ρ"), 2,
          "E over π of ρ is 1, so k3 has the same mean as k1, the KL; and x − 1 ≥ log x makes every term "
          "≥ 0. k1 is unbiased but often negative; k2 is never negative but biased (Schulman 2020)."),
        Q("Dr. GRPO (Liu et al. 2025) drops GRPO's division by the group's standard deviation. Why?",
          ("It would up-weight prompts whose samples are nearly all right or all wrong (a tiny std).",
           "The standard deviation of 0/1 rewards is always 1.", "To make the loss a maximum-likelihood loss."), 0,
          "Dividing by a small std inflates the advantages of almost-solved and almost-hopeless prompts, a "
          "bias in which questions the update listens to; only centring keeps the group baseline without it."),
    ],
}
