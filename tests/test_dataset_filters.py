"""models/lenscribe_training/data/dataset_filters.py: doc clean-up, CodeSearchNet-style filters, de-duplication and
package splits.

Pure functions on small inputs: nothing is downloaded.
"""

from __future__ import annotations

import json

import pytest

from lenscribe_training.data.dataset_filters import (
    assign_splits,
    clean_markup,
    code_drop_reason,
    code_key,
    dedup,
    doc_drop_reason,
    doc_name_key,
    drop_signature_line,
    is_test_path,
    name_drop_reason,
    non_english,
    normalize_summary,
    strip_leading_name,
)

# ------------------------------------------------------------------------------------------------ docs


def test_clean_markup():
    assert clean_markup("Return a :class:`~pkg.mod.Thing` for ``x``.") == "Return a Thing for x."
    assert clean_markup("Returns the {@code int} value of {@link java.util.List#size()}.") == \
        "Returns the int value of size."
    assert clean_markup("See {@link Foo#bar(int) the bar method}.") == "See the bar method."
    assert clean_markup("Parse <b>HTML</b> &amp; text,\n  see [docs](http://x).") == "Parse HTML & text, see docs."
    assert clean_markup("Use `name <http://x>`_ here.") == "Use name here."


def test_normalize_summary():
    assert normalize_summary("returns the value") == "Returns the value."
    assert normalize_summary("  - Returns the value:") == "Returns the value."
    assert normalize_summary("Is it empty?") == "Is it empty?"
    assert normalize_summary("") == ""


def test_drop_signature_line():
    assert drop_signature_line("fsum(iterable) -> float\n\nReturn an accurate sum.", "fsum") == \
        "Return an accurate sum."
    assert drop_signature_line("Return an accurate sum.", "fsum") == "Return an accurate sum."
    # a different name is not the signature of this function
    assert drop_signature_line("other(x)\nMore.", "fsum") == "other(x)\nMore."


@pytest.mark.parametrize(
    "doc,summary,reason",
    [
        ("Return the sum of a and b.", "Return the sum of a and b.", None),
        ("Sums.", "Sums.", "doc_too_short"),
        ("Get it.", "Get it.", "doc_too_short"),
        ("x " * 50, ("word " * 41).strip() + ".", "doc_too_long"),
        ("TODO: write this", "TODO: write this.", "doc_boilerplate"),
        ("Constructor for the Foo class.", "Constructor for the Foo class.", "doc_boilerplate"),
        ("Default constructor.", "Default constructor.", "doc_boilerplate"),
        ("Auto-generated method stub", "Auto-generated method stub.", "doc_boilerplate"),
        ("Created by John on 2012-01-01.", "Created by John on 2012-01-01.", "doc_boilerplate"),
        ("Copyright 2010 The Authors.", "Copyright 2010 The Authors.", "doc_boilerplate"),
        ("Initialize self.  See help(type(self)) for accurate signature.", "Initialize self.", "doc_boilerplate"),
        ("{@inheritDoc}", "", "doc_inherit"),
        ("{@inheritDoc}\n<p>Also does more things here.", "Also does more things here.", "doc_inherit"),
        ("", "", "doc_empty"),
        ("计算两个数的和并返回结果", "计算两个数的和并返回结果", "doc_non_english"),
        ("Возвращает сумму двух чисел.", "Возвращает сумму двух чисел.", "doc_non_english"),
        ("@param x the value", "@param x the value.", "doc_boilerplate"),
        ("Creates a Café object from the menu.", "Creates a Café object from the menu.", None),
        ("Constructs a new reader over the given stream.", "Constructs a new reader over the given stream.", None),
    ],
)
def test_doc_drop_reason(doc, summary, reason):
    assert doc_drop_reason(doc, summary) == reason


def test_non_english():
    assert non_english("数据")
    assert not non_english("Return the naïve résumé value.")
    assert non_english("123 456")  # no letters at all


# ------------------------------------------------------------------------------------------------ code / names


@pytest.mark.parametrize(
    "name,language,reason",
    [
        ("test_parse", "python", "test_function"),
        ("TestParse", "go", "test_function"),
        ("BenchmarkParse", "go", "test_function"),
        ("ExampleParse", "go", "test_function"),
        ("parse_test", "python", "test_function"),
        ("ParserTest", "java", "test_function"),
        ("testing", "python", "test_function"),
        ("parse", "python", None),
        ("latest", "python", None),
        ("Contest", "java", None),
        ("__init__", "python", None),
        ("__call__", "python", None),
        ("__repr__", "python", "dunder"),
        ("__eq__", "python", "dunder"),
        ("__private", "python", None),
    ],
)
def test_name_drop_reason(name, language, reason):
    assert name_drop_reason(name, language, "function") == reason


def test_code_drop_reason():
    assert code_drop_reason("def f():\n    pass") == "code_too_short"
    assert code_drop_reason("def f():\n\n    pass\n\n") == "code_too_short"
    assert code_drop_reason("def f():\n    x = 1\n    return x") is None
    assert code_drop_reason("function f() {\n" + "a;" * 600 + "\n}") == "code_minified"


@pytest.mark.parametrize(
    "path,is_test",
    [
        ("requests-2.0/requests/api.py", False),
        ("pkg-1.0/pkg/tests/test_api.py", True),
        ("pkg-1.0/pkg/test_api.py", True),
        ("pkg-1.0/pkg/api_test.py", True),
        ("go/src/net/http/server_test.go", True),
        ("go/src/net/http/testdata/x.go", True),
        ("lodash/dist/lodash.min.js", True),
        ("rxjs/src/index.d.ts", True),
        ("setuptools/_vendor/six.py", True),
        ("jdk/java.base/java/util/List.java", False),
        ("pkg/src/contest.py", False),
        ("pkg/src/parser.spec.ts", True),
    ],
)
def test_is_test_path(path, is_test):
    assert is_test_path(path) is is_test


# ------------------------------------------------------------------------------------------------ dedup


def _rec(code, doc, name="f", language="python"):
    return {"language": language, "code": code, "doc": doc, "name": name}


def test_code_key_ignores_whitespace_only():
    assert code_key("def f(a):\n    return a") == code_key("def f(a):\n\treturn  a\n")
    assert code_key("def f(a):\n    return a") != code_key("def f(b):\n    return b")


def test_doc_name_key_ignores_case_and_punctuation():
    assert doc_name_key("Return the value.", "get") == doc_name_key("return  the VALUE", "get")
    assert doc_name_key("Return the value.", "get") != doc_name_key("Return the value.", "fetch")


def test_dedup_keeps_first_and_counts():
    items = [
        _rec("def f(a):\n    return a", "Return a."),
        _rec("def f(a):\n        return a", "Other doc."),  # same code modulo spaces
        _rec("def f(b):\n    return b + 1", "return A"),  # same name and doc: near duplicate
        _rec("def g(b):\n    return b + 1", "Return a.", name="g"),  # another name: kept
        _rec("def f(a):\n    return a", "Return a.", language="go"),  # another language: kept
    ]
    counts: dict[str, int] = {}
    out = dedup(items, counts)
    assert out == [items[0], items[3], items[4]]
    assert counts == {"dup_code": 1, "dup_doc_name": 1}


# ------------------------------------------------------------------------------------------------ splits


def test_assign_splits_whole_packages_and_deterministic():
    sizes = {f"pkg{i}": 10 + (i * 37) % 200 for i in range(100)}
    a = assign_splits(sizes)
    b = assign_splits(dict(reversed(list(sizes.items()))))
    assert a == b  # does not depend on dict order
    assert set(a) == set(sizes) and set(a.values()) <= {"train", "valid", "test"}
    total = sum(sizes.values())
    per = {s: sum(n for p, n in sizes.items() if a[p] == s) for s in ("train", "valid", "test")}
    assert 0.05 * total <= per["test"] <= 0.05 * total * 1.5
    assert 0.05 * total <= per["valid"] <= 0.05 * total * 1.5
    assert per["train"] == total - per["test"] - per["valid"]


def test_assign_splits_minimum_and_big_packages_go_to_train():
    sizes = {"huge": 100_000, **{f"small{i}": 300 for i in range(20)}}
    a = assign_splits(sizes, minimum={"test": 1000, "valid": 1000})
    assert a["huge"] == "train"  # would blow the held-out quota
    test_n = sum(n for p, n in sizes.items() if a[p] == "test")
    assert test_n >= 1000 * 0.99 or test_n >= 0.05 * sum(sizes.values())
    assert sum(1 for p in a if a[p] == "test") >= 3  # several packages


def _candidate(package: str, i: int, code: str | None = None) -> dict:
    name = f"{package}_fn{i}"
    return {"language": "python", "package": package, "path": f"{package}/mod.py", "line": i, "name": name,
            "id": f"python-{package}-{i}", "code": code or f"def {name}(x):\n    return x + {i}",
            "doc": f"Add {i} to x in {package}."}


def test_train_only_sources_leave_held_out_splits_as_they_were():
    from collections import Counter

    from lenscribe_training.data.build_dataset import dedup_and_split

    first = [_candidate(f"p{k:02d}", i) for k in range(40) for i in range(60)]
    before, assign_before = dedup_and_split(first, ("python",), set(), {"python": Counter()})
    test_rec = before["test"][0]
    extra = [_candidate("extra", i) for i in range(100)]
    extra.append(_candidate("extra", 100, code=test_rec["code"]))  # a vendored copy of a held-out function
    drops = {"python": Counter()}
    after, assign_after = dedup_and_split(extra + first, ("python",), {"extra"}, drops)

    def ids(recs):
        return sorted(r["id"] for r in recs)

    assert before["test"] and before["valid"]
    assert ids(after["test"]) == ids(before["test"]) and ids(after["valid"]) == ids(before["valid"])
    assert assign_after["python"]["extra"] == "train"
    assert {p: s for p, s in assign_after["python"].items() if p != "extra"} == assign_before["python"]
    # the copy loses the de-duplication tie to the first-round original, wherever it sorts
    assert ids(after["train"]) == ids(before["train"] + extra[:100])
    assert drops["python"]["dup_code"] == 1
    # unmarked, "extra" sorts before "p00" and its copy would win the tie, taking the example out of the test split
    plain, _ = dedup_and_split(extra + first, ("python",), set(), {"python": Counter()})
    assert test_rec["id"] not in {r["id"] for recs in plain.values() for r in recs}


def test_assign_splits_salt_changes_order():
    sizes = {f"p{i}": 100 for i in range(40)}
    assert assign_splits(sizes, salt="a") != assign_splits(sizes, salt="b")


# ------------------------------------------------------------------------------------------------ more doc rules


@pytest.mark.parametrize(
    "summary,name,expected",
    [
        ("Join concatenates the elements.", "Join", "Concatenates the elements."),
        ("Glob searches for files.", "glob", "Searches for files."),  # doc capitalised, name not
        ("Chipfloat7() checks the constant.", "chipfloat7", "Checks the constant."),
        ("A Reader reads bytes.", "Reader", "A Reader reads bytes."),
        ("Join the elements.", "Join", "Join the elements."),  # second word is no 3rd-person verb
        ("Split splits s.", "Join", "Split splits s."),  # another name
    ],
)
def test_strip_leading_name(summary, name, expected):
    assert strip_leading_name(summary, name) == expected


@pytest.mark.parametrize(
    "summary,reason",
    [
        ("Convert all character references (e.g.", "doc_truncated"),
        ("Return all concrete (i.e.", "doc_truncated"),
        ("Checks the shadow of the address i.e.", "doc_truncated"),
        ("Passed as second argument to replace(...", "doc_truncated"),
        ("Return the list of items, sorts, etc.", None),
        ("Return the value (or None) of the key.", None),
        ("Compiler.err.override.static=\\ {0}\\n\\ overriding method is static.", "doc_boilerplate"),
    ],
)
def test_truncated_and_generated_docs(summary, reason):
    assert doc_drop_reason(summary, summary) == reason


def test_clean_rdoc():
    from lenscribe_training.data.dataset_filters import clean_rdoc

    assert clean_rdoc("Converts keys with +to_sym+ and +Time+.") == "Converts keys with to_sym and Time."
    assert clean_rdoc("Adds a+b+c together.") == "Adds a+b+c together."


def test_pinned_held_out_packages_decide_the_split_whatever_the_sizes():
    from collections import Counter

    from lenscribe_training.data.build_dataset import dedup_and_split

    cands = [_candidate(f"p{k:02d}", i) for k in range(40) for i in range(60)]
    held = {"python": {"p03": "test", "p07": "valid", "gone": "test"}}
    splits, assignment = dedup_and_split(cands, ("python",), {"p07"}, {"python": Counter()}, held)
    assert {r["package"] for r in splits["test"]} == {"p03"}
    assert not splits["valid"]  # a train-only source is never held out, even if listed
    assert len(splits["train"]) == 39 * 60
    assert set(assignment["python"]) == {f"p{k:02d}" for k in range(40)} | {"gone"}
    # growing a package (new version, other chunking) moves nothing: with a quota split it can
    more = cands + [_candidate("p11", i) for i in range(60, 3000)]
    again, _ = dedup_and_split(more, ("python",), {"p07"}, {"python": Counter()}, held)
    assert {r["id"] for r in again["test"]} == {r["id"] for r in splits["test"]}
    quota, _ = dedup_and_split(cands, ("python",), set(), {"python": Counter()})
    quota_more, _ = dedup_and_split(more, ("python",), set(), {"python": Counter()})
    assert {r["package"] for r in quota["test"]} != {r["package"] for r in quota_more["test"]}


def test_the_committed_held_out_packages_load():
    from lenscribe_training.data.build_dataset import load_held_out

    held = load_held_out()
    assert set(held) == {"python", "java", "go", "javascript", "typescript"}
    assert {"anyio", "invoke"} <= {p for p, s in held["python"].items() if s == "test"}
    assert all(s in ("valid", "test") for lang in held.values() for s in lang.values())


def test_resplit_moves_rows_and_the_pool_in_place(tmp_path):
    from lenscribe_training.data.build_dataset import resplit

    rows = [_candidate(f"p{k}", i) for k in range(4) for i in range(3)]
    for r in rows:
        r.pop("line")
    wrong = {"train": rows[:6], "valid": rows[6:9], "test": rows[9:]}  # p0, p1 train; p2 valid; p3 test
    for name, recs in wrong.items():
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    pool = [{"id": f"u{k}", "language": "python", "package": f"p{k}", "path": "x", "name": "u", "split": "train",
             "code": "def u(): pass"} for k in range(5)]
    (tmp_path / "undocumented.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool))
    (tmp_path / "stats.json").write_text("{}")
    counts = resplit(tmp_path, held={"python": {"p0": "test", "p4": "valid"}})
    assert counts == {"python": {"train": 9, "valid": 0, "test": 3}}
    test = [json.loads(x) for x in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert {r["package"] for r in test} == {"p0"} and test[0]["doc"] == rows[0]["doc"]
    assert (tmp_path / "valid.jsonl").read_text() == ""
    pool_after = map(json.loads, (tmp_path / "undocumented.jsonl").read_text().splitlines())
    moved = {r["package"]: r["split"] for r in pool_after}
    assert moved == {"p0": "test", "p1": "train", "p2": "train", "p3": "train", "p4": "valid"}
    assert json.loads((tmp_path / "stats.json").read_text())["packages"]["python"]["test"] == ["p0"]
