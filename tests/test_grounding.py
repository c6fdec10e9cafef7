"""The grounding check (lenscribe.grounding): summaries naming what the code never mentions are caught."""

from __future__ import annotations

import pytest

from lenscribe.grounding import GENERIC, code_words, grounded, ungrounded_words

ADD = '''def add(self, item):
    if item["sku"] in self.items:
        raise KeyError("duplicate sku: " + item["sku"])
    self.items[item["sku"]] = item'''

TOTAL = '''def total_price(items, tax_rate=0.0):
    subtotal = sum(item["price"] * item.get("quantity", 1) for item in items)
    return round(subtotal * (1 + tax_rate), 2)'''

JS = '''function parseHTTPHeader(rawLine) {
  const [fieldName, value] = rawLine.split(":");
  return { name: fieldName.trim().toLowerCase(), value: value.trim() };
}'''


def test_an_off_topic_summary_is_caught_with_the_words_that_gave_it_away():
    assert ungrounded_words("Add a user to the guild.", ADD) == ["user", "guild"]
    assert not grounded("Add a user to the guild.", ADD)


@pytest.mark.parametrize("summary, code", [
    ("Add an item to the inventory items.", ADD.replace("def add", "def add_to_inventory")),
    ("Returns the total price of the items with tax.", TOTAL),  # tax: a word of tax_rate
])
def test_summaries_made_of_the_codes_words_pass(summary, code):
    assert grounded(summary, code), ungrounded_words(summary, code)


def test_a_word_is_matched_by_its_first_four_letters_only():
    # strict: a verb the code does not use is not a content word of it either (a right summary can be withheld)
    assert ungrounded_words("Calculates the subtotal of the items.", TOTAL) == ["calculates"]
    assert grounded("Calculates the subtotal.", TOTAL.replace("def total_price", "def calc_total"))


def test_identifiers_are_split_into_words_and_inflections_match():
    assert {"parse", "http", "header", "raw", "line", "field", "name"} <= code_words(JS)
    assert grounded("Parses the HTTP header line into its field name.", JS)
    assert grounded("Removes duplicated items.", ADD.replace("def add", "def remove_duplicate"))


def test_generic_summary_words_never_count_against_a_summary():
    assert {"return", "given", "value", "list", "string"} <= GENERIC
    assert grounded("Returns the given value as a string.", "def f(x):\n    return str(x)")
    assert grounded("", ADD) and grounded("It is.", ADD)  # nothing to check


def test_short_words_need_an_exact_match():
    assert ungrounded_words("Add the sku to the db.", ADD) == []  # "db": under three letters, not a content word
    assert ungrounded_words("Get the url.", ADD) == ["url"]
