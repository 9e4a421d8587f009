import subprocess
import sys

from warehouse.loader import read_rows
from warehouse.totals import units_by_location, units_by_sku

EXPECTED = {"aisle-1": 730, "aisle-2": 2003, "back-room": 204, "counter": 24}


def test_units_by_location():
    assert units_by_location(read_rows("data/stock_count.csv")) == EXPECTED


def test_units_by_location_other_file(tmp_path):
    path = tmp_path / "count.csv"
    path.write_text("sku,location,quantity\nA,dock,7\nB,dock,5\nC,annex,12\n", encoding="utf-8")
    assert units_by_location(read_rows(str(path))) == {"annex": 12, "dock": 12}


def test_units_by_sku_still_works():
    assert units_by_sku(read_rows("data/stock_count.csv"))["BOLT-M6"] == 570


def test_main_output():
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()[1:]]
    assert lines == [["aisle-1", "730"], ["aisle-2", "2003"], ["back-room", "204"],
                     ["counter", "24"], ["all", "2961"]]
