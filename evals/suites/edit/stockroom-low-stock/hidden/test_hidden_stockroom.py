import json
import subprocess
import sys
from pathlib import Path

from stockroom.alerts import low_stock

HERE = Path(__file__).resolve().parent

ITEMS = [
    {"sku": "A", "name": "Apples", "quantity": 20, "reorder_level": 10},
    {"sku": "B", "name": "Bread", "quantity": 4, "reorder_level": 5},
    {"sku": "C", "name": "Cheese", "quantity": 0, "reorder_level": 2},
    {"sku": "D", "name": "Dates", "quantity": 7, "reorder_level": 7},
    {"sku": "E", "name": "Eggs", "quantity": 8, "reorder_level": 7},
]


def test_low_stock_uses_reorder_level():
    assert [item["sku"] for item in low_stock(ITEMS)] == ["C", "B", "D"]


def test_nothing_low():
    assert low_stock([{"sku": "A", "name": "A", "quantity": 3, "reorder_level": 2}]) == []


def run(tmp_path, command):
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(ITEMS), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "stockroom", command, str(path)], cwd=HERE,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def test_cli_low(tmp_path):
    assert run(tmp_path, "low") == ["C", "B", "D"]


def test_cli_order(tmp_path):
    assert run(tmp_path, "order") == ["C", "B", "D"]
