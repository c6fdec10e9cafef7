"""A small module to try lenscribe on: `lenscribe summarize examples/`."""

import json
from pathlib import Path


def load_items(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [item for item in data["items"] if item.get("active")]


def total_price(items, tax_rate=0.0):
    subtotal = sum(item["price"] * item.get("quantity", 1) for item in items)
    return round(subtotal * (1 + tax_rate), 2)


class Inventory:
    def __init__(self, items=None):
        self.items = {item["sku"]: item for item in items or []}

    def add(self, item):
        if item["sku"] in self.items:
            raise KeyError("duplicate sku: " + item["sku"])
        self.items[item["sku"]] = item

    def remove(self, sku):
        return self.items.pop(sku, None)

    def save(self, path):
        Path(path).write_text(json.dumps({"items": list(self.items.values())}, indent=2))
