"""lenscribe.prompts: the chat request for one chunk and the clean-up of an LLM's reply."""

from __future__ import annotations

import pytest

from lenscribe.prompts import PLAIN, PROMPTS, SPECIFIC, clean_reply, current, cut_code, messages


@pytest.mark.parametrize("raw, want", [
    ("This function reads the file at the given path.", "Reads the file at the given path."),
    ("The `load_config` function loads the YAML config.", "Loads the YAML config."),
    ("The load_config method loads the YAML config.", "Loads the YAML config."),
    ("`load` is a function that parses JSON text into a dict.", "Parses JSON text into a dict."),
    ("This method is a helper function that computes the hash of the file.", "Computes the hash of the file."),
    ("The constructor initializes the queue with a maximum size.", "Initializes the queue with a maximum size."),
    ("This Python function computes the mean", "Computes the mean."),
    ("The function `foo` sorts the rows by date.", "Sorts the rows by date."),
    ("Sure! Here is the summary: Parses the header line into a tuple.", "Parses the header line into a tuple."),
    ('"Checks whether the cache is stale, e.g. older than a day."',
     "Checks whether the cache is stale, e.g. older than a day."),
    # already verb-first, or no lead to take: left as written
    ("Returns the sum of a and b.", "Returns the sum of a and b."),
    ("The file is opened and read.", "The file is opened and read."),
    # a name then "is a ...": a noun phrase, kept as one; "is" with anything else is left as written
    ("`BackendError` is a custom exception raised on bad replies.", "A custom exception raised on bad replies."),
    ("`cache` is empty after a reset.", "`cache` is empty after a reset."),
])
def test_leads_become_the_verb(raw, want):
    r = clean_reply(raw, PLAIN)
    assert r.text == want and r.refused is None
    assert ("lead" in r.changes) == (want.rstrip(".") not in raw)


def test_second_sentence_kept_only_when_it_says_what_the_code_returns_raises_or_changes():
    two = "This function reads the file. If the file does not exist, raises FileNotFoundError. It logs."
    assert clean_reply(two, SPECIFIC).text == "Reads the file. If the file does not exist, raises FileNotFoundError."
    assert clean_reply(two, SPECIFIC).changes == ("lead", "second kept", "rest dropped")
    assert clean_reply(two, PLAIN).text == "Reads the file."  # the plain prompt keeps one sentence
    r = clean_reply("Computes the mean. This is useful for statistics.", SPECIFIC)
    assert r.text == "Computes the mean." and "second dropped" in r.changes
    # words are matched whole ("adding" is not "add"), and "This is ..." commentary is dropped
    fluff = "Adds the handler to the logger. This is a common operation in Python for adding handlers to a logger."
    assert clean_reply(fluff, SPECIFIC).text == "Adds the handler to the logger."
    assert clean_reply("Parses the header. It returns None on a blank line.", SPECIFIC).text == (
        "Parses the header. It returns None on a blank line.")


def test_earlier_ids_of_the_same_wording_are_cleaned_with_today_s_clean_up():
    assert current("specific-v1") is SPECIFIC and current("plain-v2") is PLAIN and current("nope") is None


@pytest.mark.parametrize("raw, reason", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("def foo():\n    return 1", "code"),
    ("```python\nx = 1\n```", "code"),
    ("Write a one-sentence docstring summary for this Python function.", "echo"),
    ("Reads " + "the file and " * 30 + "returns it.", "too long"),
])
def test_refusals(raw, reason):
    r = clean_reply(raw, SPECIFIC)
    assert r.text is None and r.refused == reason


def test_messages_carry_the_code_and_the_language():
    msgs = messages(SPECIFIC, "func Add(a, b int) int { return a + b }", "go", "function")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "Go function" in msgs[1]["content"] and "return a + b" in msgs[1]["content"]
    assert "TypeScript method" in messages(PLAIN, "x", "tsx", "method")[1]["content"]


def test_long_code_is_cut_at_a_line_break():
    code = "\n".join(f"line_{i} = {i}" for i in range(1000))
    cut = cut_code(code, 200)
    assert len(cut) <= 204 and cut.endswith("\n...") and cut.split("\n")[-2].startswith("line_")
    assert cut_code("short", 200) == "short"


def test_prompt_ids_are_unique_and_named_in_the_table():
    assert PROMPTS == {p.id: p for p in PROMPTS.values()} and len({p.id for p in (PLAIN, SPECIFIC)}) == 2
