import csv


def read_rows(path):
    """The stock count as a list of dicts, one per (sku, location)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if row["sku"].strip()]
