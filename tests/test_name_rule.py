"""lenscribe.name_rule: the name-only baseline summary that ``lenscribe eval`` measures the model against."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name, code, expected", [
    ("load_user_config", "", "Load the user config."),
    ("Inventory.add_item", "", "Add the item."),
    ("is_empty", "", "Check if empty."),
    ("parseHTTPHeader", "", "Parse the http header."),
    ("fetchUser", "", "Get the user."),
    ("to_json", "", "Convert to json."),
    ("Stack.__init__", "", "Initialize the stack."),
    ("UserCache", "", "The user cache."),
    (None, "func (d *dictDecoder) availRead() int {\n\treturn d.wrPos - d.rdPos\n}", "The avail read."),
    (None, "def remove_user(users, name):\n    users.discard(name)", "Remove the user."),
    ("", "", ""),
])
def test_name_only_baseline_rule(name, code, expected):
    from lenscribe.name_rule import name_summary

    assert name_summary(name, code) == expected
