"""The end-of-notebook multiple-choice questions: 3-5 per notebook (week 1 here, 06-12 in
:mod:`rlft_core.quiz_questions_week2`), each with its options, the index of
the correct one, and an explanation shown after an answer. Used by :mod:`rlft_core.quiz` (the widget
and the Moodle GIFT export). Plain text with Unicode maths, so that the same string reads well in the
widget, in a static page and in an LMS.
"""
from __future__ import annotations

from ._quiz_types import Question
from .quiz_questions_week2 import WEEK2

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
    **WEEK2,
}
