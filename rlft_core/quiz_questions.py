"""The end-of-notebook multiple-choice questions: 3-5 per notebook, each with its options, the index of
the correct one, and an explanation shown after an answer. Used by :mod:`rlft_core.quiz` (the widget
and the Moodle GIFT export). Plain text with Unicode maths, so that the same string reads well in the
widget, in a static page and in an LMS.
"""
from __future__ import annotations

from typing import NamedTuple


class Question(NamedTuple):
    text: str
    options: tuple[str, ...]
    answer: int               # index into options
    explanation: str


TITLES = {
    "00": "Start here", "01": "Background", "02": "Core concepts", "03": "From policy gradients to PPO",
    "04": "The mathematics of PPO", "05": "Preferences, reward models and DPO", "06": "Case study: driving",
    "07": "PPO in practice", "08": "RLHF for a tiny language model", "09": "Applications and tools",
    "10": "Reward over-optimisation", "11": "Frequently asked questions", "12": "GRPO and verifiable rewards",
}

Q = Question
QUESTIONS: dict[str, list[Question]] = {
    "00": [
        Q("What does DPO stand for in this course?",
          ("Deterministic Policy Gradient", "Direct Preference Optimization", "Distributed Proximal Optimization"), 1,
          "DPO is Direct Preference Optimization (Rafailov et al., NeurIPS 2023), an offline loss on preference "
          "pairs. Deterministic policy gradients (Silver et al. 2014) are a different method; the source chapter "
          "mixes the two up."),
        Q("Your exercise function still raises NotImplementedError. What does its checker do?",
          ("It raises the error and the notebook stops.",
           "It says how to start and returns False; later cells use the reference implementation.",
           "It quietly uses your stub in later cells."), 1,
          "A checker never raises into the notebook. Unattempted, it prints how to start and returns False, and "
          "choose(...) hands the reference to later cells, so the notebook always runs to the end."),
        Q("With γ = 0.9, what is the discounted return G₀ of the rewards [1, 1, 1]?",
          ("3.0", "2.439", "2.71", "2.9"), 2,
          "G₀ = r₀ + γ r₁ + γ² r₂ = 1 + 0.9 + 0.81 = 2.71. The first reward is not discounted (weight γ⁰ = 1); "
          "2.439 is what you get by starting the weights at γ¹."),
        Q("The γ slider marks the effective horizon 1/(1 − γ). About how many steps ahead does an agent with "
          "γ = 0.99 look?",
          ("10", "100", "1000", "Every future step counts equally."), 1,
          "1/(1 − 0.99) = 100. A reward 100 steps ahead still gets weight 0.99¹⁰⁰ ≈ 0.37 ≈ 1/e; much further "
          "ahead the weights fade away."),
    ],
    "01": [
        Q("CartPole's step returns terminated = False and truncated = True. What happened?",
          ("The pole fell past 12°.",
           "A time limit (500 steps) cut the episode; the state reached is not terminal.",
           "The cart left the track."), 1,
          "truncated means a time limit ended the episode; terminated means a real end (pole fallen, cart off "
          "the track). The difference matters for value estimates: a truncated state still has a future."),
        Q("Two policies both balance the pole for 500 steps; one also keeps the cart near the centre. How do "
          "their CartPole returns compare?",
          ("The centred one earns more.", "They earn the same, 500.", "The centred one earns less."), 1,
          "The reward is +1 per step, so both earn 500. The reward says nothing about how the pole is balanced: "
          "what we prefer is easy to judge by watching and hard to write into the reward."),
        Q("In learning from human feedback (Christiano et al. 2017), what do people provide?",
          ("A hand-written reward function.",
           "Scores from 1 to 10 for every step.",
           "Comparisons: which of two clips of behaviour is better."), 2,
          "People compare pairs of clips; a reward model is fitted to the comparisons and then optimised. "
          "Comparing is easier and more consistent than writing a reward or scoring each step."),
        Q("The source says human feedback makes RL work \"in few-sample, low-resource settings\". Is that right?",
          ("Yes: each label replaces many environment steps.",
           "No: RL stays sample-hungry; feedback states the goal when nobody can write the reward.",
           "Yes, but only for CartPole."), 1,
          "Even our tiny CartPole agent needs tens of thousands of steps, and RLHF adds labelling and a reward "
          "model. Christiano et al. labelled under 1 % of the interactions, yet their agents trained for "
          "millions of steps."),
    ],
    "02": [
        Q("Which target does the Q-learning update use after a non-terminal step?",
          ("r + γ·Q(s′, a′), with a′ the action taken next", "r + γ·max over a′ of Q(s′, a′)",
           "r + γ·mean over a′ of Q(s′, a′)"), 1,
          "Q-learning bootstraps from the greedy action: it learns the values of the greedy policy whatever it "
          "does while exploring (off-policy). Using the action actually taken next is SARSA."),
        Q("With ε = 0.1 exploration on CliffWalking, why does SARSA's greedy path keep away from the cliff edge?",
          ("It learns the values of the ε-greedy policy it follows, including the random steps into the cliff.",
           "It uses a larger learning rate than Q-learning.",
           "It cannot represent the shortest path."), 0,
          "SARSA is on-policy: its targets include the exploring actions, and next to the cliff a random step "
          "costs −100. So the safer, longer path has the higher value for the policy it really follows. As "
          "ε → 0 the two paths meet."),
        Q("When a step terminates the episode, what is the TD target?",
          ("r", "r + γ·max over a′ of Q(s′, a′)", "0"), 0,
          "There is no next state to bootstrap from, so the target is just the reward r; the TD error is "
          "r − Q(s, a)."),
        Q("How are RLHF, PPO and DPO related?",
          ("They are three sibling fine-tuning algorithms.",
           "PPO is an RL algorithm; RLHF is a pipeline that usually uses PPO; DPO replaces its reward model and "
           "RL step with one loss on preference pairs.",
           "DPO is PPO for discrete action spaces."), 1,
          "PPO optimises a policy for a reward. RLHF is SFT, then a reward model from comparisons, then RL "
          "(usually PPO) with a KL penalty. DPO is not a policy-gradient method at all: a supervised loss on "
          "the preference pairs."),
    ],
    "03": [
        Q("Why does subtracting a baseline b(s) from the return leave the policy gradient unbiased?",
          ("Because the baseline is detached.",
           "Because E over a ∼ π of ∇ log π(a|s) is zero, so the b(s) term averages out.",
           "Because the returns are normalised."), 1,
          "b(s) does not depend on the action, and the expected score function is zero: "
          "Σₐ π(a|s) ∇ log π(a|s) = ∇ Σₐ π(a|s) = ∇1 = 0. A good baseline (the value V(s)) cuts the variance."),
        Q("Why is the baseline detached in the REINFORCE loss −mean(log π · (G − b))?",
          ("It is treated as a constant: the policy loss must not train the value network.",
           "Detaching lowers the variance of the returns.",
           "It makes the loss positive."), 0,
          "The policy gradient treats b as a constant. Without .detach() the policy loss would also push the "
          "baseline's parameters, in a direction that has nothing to do with fitting the value; the value "
          "network has its own loss."),
        Q("How does PPO keep each update close to the old policy?",
          ("A second-order solver under a hard KL constraint.",
           "It lowers the learning rate after every epoch.",
           "It clips the probability ratio: once r leaves [1 − ε, 1 + ε] in the direction the advantage pushes, "
           "the objective is flat."), 2,
          "That flat region gives the sample zero gradient, so it stops pulling; this lets PPO reuse a batch for "
          "several epochs with first-order SGD. The constrained second-order update is TRPO."),
        Q("In RLHF as practised (e.g. InstructGPT), where does behaviour cloning appear?",
          ("It is the SFT step: fine-tuning on demonstrations, which gives the starting policy and π_ref.",
           "It is how the reward model is trained.", "It replaces PPO in the last step."), 0,
          "Behaviour cloning is supervised fine-tuning on demonstrations: the start of the pipeline. The reward "
          "model is fitted to comparisons; then PPO maximises it with a KL penalty to the SFT model."),
    ],
    "04": [
        Q("What does GAE return with λ = 0?",
          ("The Monte-Carlo advantages G_t − V(s_t)", "The TD errors δ_t", "Zeros"), 1,
          "Â_t = Σₖ (γλ)ᵏ δ_{t+k}: with λ = 0 only k = 0 is left, δ_t = r_t + γV(s_{t+1}) − V(s_t) (low variance, "
          "biased if V is wrong). λ = 1 gives G_t − V(s_t)."),
        Q("A time limit truncates an episode at its last step. What should the advantage computation do there?",
          ("Treat it like a termination: the next value is 0.",
           "Bootstrap: add γ·V(s_final) to the last reward, because the state reached is not terminal.",
           "Drop the last step from the batch."), 1,
          "Truncation is not termination: the episode would have gone on, so the final state's value is not 0. "
          "Treating it as terminal biases the value estimates near the time limit (Pardo et al. 2018)."),
        Q("One sample has advantage Â > 0 and ratio r = 1.5, with ε = 0.2. What gradient does it give L^CLIP?",
          ("Zero: min(r·Â, clip(r)·Â) = 1.2·Â is constant in θ.",
           "A positive one that pushes r higher still.", "A negative one that pulls r back to 1."), 0,
          "The ratio has already moved past 1 + ε in the direction the advantage wants, so the clipped term "
          "wins the min and is flat: the sample stops pulling. Had r moved the wrong way (r < 1), it would not "
          "be clipped."),
        Q("Which expression is PPO's loss to minimise?",
          ("E[ max(−r·Â, −clip(r, 1 − ε, 1 + ε)·Â) ]", "E[ min(−r·Â, −clip(r, 1 − ε, 1 + ε)·Â) ]",
           "E[ log π(a|s) · Â ], minimised"), 0,
          "Negating −min(x, y) gives max(−x, −y). The min of the negated terms is the sign pitfall: for Â < 0 "
          "and r < 1 − ε it keeps pushing r down. Minimising E[log π · Â] is the source's formula, a sign-flipped "
          "vanilla policy gradient."),
    ],
    "05": [
        Q("Under Bradley–Terry, answer y_w has reward 2 and y_l has reward 0. With what probability is y_w "
          "preferred?",
          ("2 / (2 + 0) = 1", "σ(2) ≈ 0.88", "0.5"), 1,
          "P(y_w ≻ y_l) = σ(r_w − r_l) = 1/(1 + e⁻²) ≈ 0.88. Only the difference of the rewards matters, so a "
          "reward model is defined up to an additive constant."),
        Q("Why write the reward-model loss with F.logsigmoid(z) rather than torch.log(torch.sigmoid(z))?",
          ("logsigmoid is a different loss that trains faster.",
           "They differ by a constant.",
           "The two are equal mathematically, but log(sigmoid(z)) becomes −inf for very negative z "
           "(about z < −100 in float32); logsigmoid stays finite."), 2,
          "σ(z) underflows to 0 in floating point when z is very negative, and log 0 = −inf, which poisons the "
          "gradients. logsigmoid computes the same value stably."),
        Q("What is the optimum of max over π of E[r] − β·KL(π ‖ π_ref)?",
          ("π* ∝ π_ref · exp(r/β)", "π* ∝ exp(β·r)", "π* puts all its mass on the best answer, for any β"), 0,
          "Rewriting the objective as −β·KL(π ‖ π*) + β·log Z shows the optimum π* = π_ref·exp(r/β)/Z. Small β "
          "piles the mass onto the best answer; large β keeps π* at π_ref."),
        Q("In DPO, what does a larger β do?",
          ("The loss saturates at a smaller log-ratio gap h, so the policy stays closer to π_ref.",
           "The policy moves further from π_ref.", "Nothing: β cancels in the loss."), 0,
          "β scales h inside −log σ(β·h). With larger β a pair stops pulling once h is small, so the policy need "
          "not move far from the reference, just as a large β keeps π* near π_ref in the KL-regularised "
          "objective."),
        Q("During DPO training the chosen answers' implicit reward β·log(π_θ/π_ref) falls while the margin "
          "grows. What does that mean?",
          ("DPO has failed; restart with another β.",
           "Nothing alarming: DPO only asks the chosen answer to gain relative to the rejected one. Watch the "
           "margin, the accuracy and (if known) the true reward.",
           "The reference model is being trained by mistake."), 1,
          "Probability is a fixed budget: with noisy labels many answers are chosen in some pairs and rejected "
          "in others, so chosen log-probabilities can fall too, just less than the rejected ones."),
    ],
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
