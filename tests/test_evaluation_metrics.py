"""lenscribe.evaluation.metrics: degenerate-output detection, exact match and the report."""

from __future__ import annotations

import math

import pytest

from lenscribe.evaluation.metrics import exact_match, is_degenerate, report

# ------------------------------------------------------------------------------------------------ metrics


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        ".",
        "the the the",
        "Returns the the the value",
        "get value get value get value",
        "a a b b a b c a",  # 5 of 8 words are repeats
    ],
)
def test_degenerate(text):
    assert is_degenerate(text)


@pytest.mark.parametrize(
    "text",
    [
        "Return the sum of a and b.",
        "Returns the value of the key, or the default value.",  # "the" x3 and "value" x2 but not in a row
        "Close the file.\nFlushes buffers first.",
        "a a b",  # a run of two is fine
        "get value get value",  # a bigram twice is fine
    ],
)
def test_not_degenerate(text):
    assert not is_degenerate(text)


def test_exact_match_ignores_case_spacing_and_line_breaks():
    assert exact_match("Return the sum.", "return  the sum .")
    assert exact_match("Open the file. Read it.", "Open the file.\nRead it.")
    assert not exact_match("Return the sum.", "Return the sum")


def test_report():
    rep = report("python", ["Return the sum.", "Open a file."], ["Return the sum.", ""], seconds=0.5)
    assert rep.n == 2
    assert rep.exact_match == 0.5
    assert rep.degenerate == 0.5 and rep.empty == 0.5
    assert rep.ms_per_summary == pytest.approx(250.0)
    assert rep.bleu == pytest.approx(100 * (1.0 + math.exp(-4)) / 2)
    assert set(rep.to_dict()) >= {"language", "n", "bleu", "exact_match", "degenerate", "ms_per_summary"}
