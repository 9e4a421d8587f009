import json


def load(path):
    with open(path, encoding="utf-8") as fh:
        items = json.load(fh)
    for item in items:
        for key in ("sku", "name", "quantity", "reorder_level"):
            if key not in item:
                raise ValueError(f"item {item!r} has no {key!r}")
    return items
