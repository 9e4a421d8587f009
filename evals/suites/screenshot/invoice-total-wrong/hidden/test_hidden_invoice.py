import json
import subprocess
import sys

import pytest

from invoicing.model import Invoice, Line


def _invoice():
    with open("data/invoice-2024-031.json", encoding="utf-8") as f:
        return Invoice.from_dict(json.load(f))


def test_subtotal_counts_quantities():
    invoice = _invoice()
    assert invoice.subtotal() == pytest.approx(531.90)
    assert invoice.vat() == pytest.approx(111.70)
    assert invoice.total() == pytest.approx(643.60)


def test_other_invoice():
    invoice = Invoice("X-1", "Someone", [Line("a", 3, 2.50), Line("b", 2, 0.10)])
    assert invoice.subtotal() == pytest.approx(7.70)
    assert invoice.total() == pytest.approx(9.32)


def test_printed_totals():
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    last = {line.rsplit(None, 1)[0].strip(): line.split()[-1] for line in out.stdout.splitlines()[-3:]}
    assert last == {"Subtotal": "531.90", "VAT 21%": "111.70", "Total": "643.60"}
