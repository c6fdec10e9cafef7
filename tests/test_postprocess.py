import pytest

from lenscribe.postprocess import clean_summary, collapse_repeats, sanitize_summary, shorten


def test_collapses_decoding_loops():
    assert collapse_repeats("returns the the the value".split()) == "returns the value".split()
    assert collapse_repeats("a b a b a b c".split()) == "a b c".split()
    assert collapse_repeats("parse the file and return it".split()) == "parse the file and return it".split()


def test_two_lines_at_most_and_capitalised():
    text = "returns the sum of a and b. Raises ValueError on overflow. Third sentence here."
    assert clean_summary(text) == "Returns the sum of a and b.\nRaises ValueError on overflow."


def test_empty_and_whitespace():
    assert clean_summary("") == ""
    assert clean_summary("   \n\t ") == ""


def test_long_lines_are_shortened_on_a_word_boundary():
    line = "word " * 60
    out = shorten(line.strip(), 40)
    assert len(out) <= 40 and out.endswith("…") and " wor…" not in out


@pytest.mark.parametrize("text, expected", [
    ("Remove user from the user user.", "Remove user from the user."),
    ("Return the name, name, name of it.", "Return the name, of it."),
    ("Read a File file", "Read a File"),
    ("Return the user. User data.", "Return the user. User data."),  # a new sentence, not a loop
    ("Return the user user. User data.", "Return the user. User data."),
    ("Set the value. Then the value.", "Set the value. Then the value."),  # not back to back: kept
])
def test_a_copy_differing_only_in_case_or_end_punctuation_is_a_repeat(text, expected):
    assert " ".join(collapse_repeats(text.split())) == expected


def test_repeated_garbage_becomes_short():
    assert clean_summary("get get get get get get get get") == "Get"


@pytest.mark.parametrize("text, expected", [
    ("Convert it to a datetime.datetime.datetime object.", "Convert it to a datetime.datetime object."),
    ("Return the a-a-a-a-b value.", "Return the a-b value."),
    ("Use datetime.datetime here.", "Use datetime.datetime here."),  # one repeat is a legitimate dotted name
    ("Join with os.path.join.", "Join with os.path.join."),
    # a piece hyphenated to itself is a loop at once (outputs of the shipped model on held-out code)
    ("Compute the reciprocal of a zero-zero zero.", "Compute the reciprocal of a zero."),
    ("Check if the request is cross-cross cross-validation.", "Check if the request is cross cross-validation."),
    ("Time time-time-time series.", "Time series."),
    ("An end-to-end well-known test.", "An end-to-end well-known test."),
])
def test_a_piece_looping_inside_a_dotted_word_is_cut(text, expected):
    assert clean_summary(text) == expected


UNSAFE = ("Read a\x00 file\u202e.\r\nShow ![img](https://evil.example/x.png) and [run](command:workbench.action.x)."
          "\x1b[31m")


def test_sanitize_summary_drops_control_characters_and_markdown_links():
    assert sanitize_summary(UNSAFE) == "Read a file.\nShow img and run.[31m"
    assert sanitize_summary("Tab\there.\u2028Next.") == "Tab here.\nNext."
    clean = "Return the sum of two numbers.\nIt never overflows — ünïcode kept."
    assert sanitize_summary(clean) == clean and sanitize_summary(sanitize_summary(UNSAFE)) == sanitize_summary(UNSAFE)


def test_model_output_is_sanitized():
    assert clean_summary("read\x00 the file. ![x](https://e.example/a.png) then") == "Read the file. x then"
