"""The review language: exact grammar checker, sentiment and true reward against hand-worked values."""
import pytest
import torch

from rlft_core.review_language import ASPECTS, PRODUCTS, ReviewLanguage

EOS = "<eos>"


def words(text):
    return text.split() + [EOS]


@pytest.mark.parametrize("product, text", [
    ("phone", "the battery is great ."),
    ("phone", "the screen is very good and the price is poor ."),
    ("laptop", "i love this laptop . the keyboard is not bad ."),
    ("blender", "the motor is awful but the design is nice . i hate this blender . the noise is weak ."),
])
def test_grammatical_reviews_are_accepted(product, text):
    assert ReviewLanguage().is_grammatical(product, words(text))


@pytest.mark.parametrize("product, review, why", [
    ("phone", words("the lens is great ."), "a phone has no lens (off topic)"),
    ("phone", words("i love this laptop ."), "wrong product"),
    ("phone", "the battery is great .".split(), "no <eos>"),
    ("phone", words("the battery is great"), "no final period"),
    ("phone", words("the battery is is great ."), "repeated word"),
    ("phone", words("the battery great ."), "missing verb"),
    ("phone", words("the battery is very not great ."), "two modifiers"),
    ("phone", words("the battery is great and ."), "dangling conjunction"),
    ("phone", words("the battery is great and the screen is good and the price is bad ."), "three clauses"),
    ("phone", [EOS], "empty review"),
    ("toaster", words("the battery is great ."), "unknown product"),
])
def test_ungrammatical_reviews_are_rejected(product, review, why):
    assert not ReviewLanguage().is_grammatical(product, review), why


def test_true_reward_matches_hand_computed_values():
    lang = ReviewLanguage()
    # one clause: very * great = 1.5
    assert lang.true_reward("phone", words("the battery is very great .")) == pytest.approx(1.5)
    # mean of (not bad = -0.5 * -1 = 0.5) and (good = 0.5) = 0.5; 11 words: -0.1
    assert lang.true_reward("phone", words("the screen is not bad and the price is good .")) == pytest.approx(0.4)
    # 15 words: mean(1, 1, 1) - 0.1 * (15 - 10)
    text = "i love this phone . the battery is great . the screen is great ."
    assert lang.true_reward("phone", words(text)) == pytest.approx(1.0 - 0.5)
    # ungrammatical (off topic): sentiment still read off the words, minus 1
    assert lang.true_reward("phone", words("the lens is great .")) == pytest.approx(1.0 - 1.0)
    # no sentiment word at all
    assert lang.sentiment(["the", "battery", "."]) == 0.0


def test_reward_parameters_change_the_reward_as_documented():
    harsh = ReviewLanguage(ungrammatical_penalty=2.0, length_penalty=0.2, target_length=5)
    assert harsh.true_reward("phone", words("the lens is great .")) == pytest.approx(1.0 - 2.0)
    assert harsh.true_reward("phone", words("the battery is very great .")) == pytest.approx(1.5 - 0.2)


def test_token_helpers_agree_with_the_word_level_functions():
    lang = ReviewLanguage()
    tok = lang.tokenizer
    good = tok.encode(["<bos>", "camera", *words("the lens is good .")])
    bad = tok.encode(["<bos>", "camera", *words("the strap is good .")]) + [tok.pad_id, tok.pad_id]
    batch = torch.tensor([good + [tok.pad_id, tok.pad_id], bad])
    assert lang.split(good) == ("camera", words("the lens is good ."))
    torch.testing.assert_close(lang.sequence_rewards(batch), torch.tensor([0.5, -0.5]))
    assert lang.grammatical(batch).tolist() == [True, False]
    assert lang.reward_of(good) == pytest.approx(0.5) and lang.length_of(good) == 5.0
    assert lang.text(good) == "[camera] the lens is good ."
    with pytest.raises(ValueError, match="tokens"):
        lang.split(tok.encode(["camera", "the"]))


def test_prompts_are_bos_then_a_product_all_products_appear():
    lang = ReviewLanguage()
    prompts = lang.prompts(300, torch.Generator().manual_seed(0))
    assert prompts.shape == (300, 2) and (prompts[:, 0] == lang.tokenizer.bos_id).all()
    assert {lang.tokenizer.itos[int(i)] for i in prompts[:, 1]} == set(PRODUCTS)


def test_default_corpus_is_grammatical_seeded_and_within_length():
    lang = ReviewLanguage()
    corpus = lang.sample_corpus(500, seed=3)
    assert corpus == lang.sample_corpus(500, seed=3) and corpus != lang.sample_corpus(500, seed=4)
    assert all(lang.is_grammatical(*lang.split(s)) for s in corpus)
    assert max(len(s) for s in corpus) <= lang.block_size
    rewards = torch.tensor([lang.reward_of(s) for s in corpus])
    assert rewards.std() > 0.5                                          # sentiment varies
    assert (rewards >= 1.5).float().mean() < 0.1                        # the optimum is rare in the corpus


def test_corruption_makes_about_that_fraction_ungrammatical():
    lang = ReviewLanguage(corruption_prob=0.3)
    corpus = lang.sample_corpus(2000, seed=0)
    bad = 1 - sum(lang.is_grammatical(*lang.split(s)) for s in corpus) / len(corpus)
    assert 0.25 < bad <= 0.31                       # a corruption occasionally leaves a review grammatical
    off_topic = ReviewLanguage(corruption_prob=1.0, corruptions=("off_topic",)).sample_corpus(200, seed=0)
    all_aspects = {a for group in ASPECTS.values() for a in group}
    for s in off_topic:
        product, review = lang.split(s)
        assert not lang.is_grammatical(product, review)
        wrong = [w for w in review if (w in all_aspects and w not in ASPECTS[product]) or (w in PRODUCTS and w != product)]
        assert len(wrong) == 1                                          # exactly one word went off topic


def test_modifier_probs_control_negation_in_the_corpus():
    assert not any(lang_word == "not" for s in ReviewLanguage().sample_corpus(300, seed=0)
                   for lang_word in ReviewLanguage().split(s)[1])
    lang = ReviewLanguage(modifier_probs=(0.0, 0.0, 1.0))
    corpus = lang.sample_corpus(50, seed=0)
    assert all(lang.is_grammatical(*lang.split(s)) for s in corpus)
    assert all("not" in lang.split(s)[1] or "i" in lang.split(s)[1] for s in corpus)


@pytest.mark.parametrize("kwargs, match", [({"corruption_prob": 1.5}, "corruption_prob"),
                                           ({"target_length": 0}, "target_length"),
                                           ({"corruptions": ("typo",)}, "corruptions"),
                                           ({"modifier_probs": (0.5, 0.5, 0.5)}, "modifier_probs"),
                                           ({"max_words": 3}, "max_words")])
def test_review_language_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReviewLanguage(**kwargs)
