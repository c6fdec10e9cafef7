"""lenscribe.evaluation.bleu: CodeXGLUE's smoothed sentence BLEU-4 and the corpus score, checked by hand."""

from __future__ import annotations

import math

import pytest

from lenscribe.evaluation import bleu, metrics
from lenscribe.evaluation.bleu import corpus_bleu, normalize, sentence_bleu, split_puncts
from lenscribe.evaluation.metrics import report

# ------------------------------------------------------------------------------------------------ BLEU


def test_identical_sentences_score_one():
    assert sentence_bleu("Return the sum of a and b.", "return the sum of a and b .") == pytest.approx(1.0)
    assert corpus_bleu(["Return the sum of a and b."], ["Return the sum of a and b."]) == pytest.approx(100.0)


def test_one_wrong_token_hand_computed():
    # 4 tokens each; p1 = 3/4; smoothed p2 = (2+1)/(3+1), p3 = (1+1)/(2+1), p4 = (0+1)/(1+1); no length penalty
    expected = (3 / 4 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert sentence_bleu("a b c d", "a b c e") == pytest.approx(expected, rel=1e-12)


def test_short_hypothesis_brevity_penalty():
    # all n-grams of "a b" match (p3, p4 smoothed to (0+1)/(0+1)); penalty exp(1 - (6+1)/(2+1))
    assert sentence_bleu("a b c d e f", "a b") == pytest.approx(math.exp(1 - 7 / 3), rel=1e-12)


def test_longer_hypothesis_has_no_penalty():
    # hyp "a b c d x" vs ref "a b c d": p1 4/5, p2 (3+1)/(4+1), p3 (2+1)/(3+1), p4 (1+1)/(2+1)
    expected = (4 / 5 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25
    assert sentence_bleu("a b c d", "a b c d x") == pytest.approx(expected, rel=1e-12)


def test_punctuation_is_a_token_and_case_is_ignored():
    # "Returns the value." -> returns the value . (4 tokens); hypothesis 3 tokens, all n-grams match
    assert sentence_bleu("Returns the value.", "RETURNS the value") == pytest.approx(math.exp(1 - 5 / 4), rel=1e-12)


def test_empty_hypothesis_scores_exp_minus_ref_len():
    # CodeXGLUE quirk: no tokens -> precisions smoothed to 1, penalty 1 - (5+1)/(0+1) = -5
    assert sentence_bleu("a b c d e", "") == pytest.approx(math.exp(-5), rel=1e-12)


def test_no_overlap_is_near_zero():
    assert sentence_bleu("open the file", "close a socket") < 1e-6 * 100


def test_unigram_precision_is_not_smoothed_but_clipped():
    # "the the the" vs "the cat": unigram matches clipped to 1 of 3
    p1, p2, p3 = 1 / 3, (0 + 1) / (2 + 1), (0 + 1) / (1 + 1)
    p4 = (0 + 1) / (0 + 1)
    assert sentence_bleu("the cat", "the the the") == pytest.approx((p1 * p2 * p3 * p4) ** 0.25, rel=1e-12)


def test_multiple_references_use_max_counts_and_shortest_length():
    one = sentence_bleu(["a b c d", "a b"], "a b c d")
    # max counts cover every n-gram of the hypothesis; shortest reference (2) -> no penalty for a longer hypothesis
    assert one == pytest.approx(1.0)


def test_split_puncts_and_normalize():
    assert split_puncts("  Don't use x.y, 1.5!  ") == "don ' t use x . y , 1 . 5 !"
    assert normalize("a&amp;b &lt;c&gt; x-\ny") == ["a", "&", "b", "<", "c", ">", "xy"]
    assert normalize("1.5 and 3-4") == ["1.5", "and", "3", "-", "4"]
    assert normalize("<skipped>hello") == ["hello"]


def test_corpus_bleu_is_mean_of_sentences_times_100():
    refs = ["a b c d", "a b c d e f"]
    hyps = ["a b c e", "a b"]
    expected = 100 * (sentence_bleu(refs[0], hyps[0]) + sentence_bleu(refs[1], hyps[1])) / 2
    assert corpus_bleu(refs, hyps) == pytest.approx(expected)
    assert corpus_bleu([], []) == 0.0
    with pytest.raises(ValueError):
        corpus_bleu(["a"], [])


def test_module_exports():
    assert bleu.sentence_bleu is sentence_bleu
    assert metrics.report is report
