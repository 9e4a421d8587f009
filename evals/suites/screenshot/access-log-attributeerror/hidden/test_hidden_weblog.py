import subprocess
import sys

from weblog.parser import parse_file, parse_line

EXPECTED = """9 requests
  200: 5
  201: 1
  204: 1
  404: 1
  500: 1
Slowest:
   1310ms  GET /api/reports/daily
    240ms  GET /api/customers?page=2
    112ms  POST /api/orders"""


def test_parses_every_method():
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"]:
        entry = parse_line(f'10.0.0.1 [2024-05-06T10:00:00] "{method} /x/1" 200 5ms')
        assert entry.method == method
        assert (entry.path, entry.status, entry.ms) == ("/x/1", 200, 5)


def test_parses_whole_log():
    entries = parse_file("logs/access.log")
    assert len(entries) == 9
    assert [e.method for e in entries].count("PUT") == 1
    assert entries[5].path == "/api/orders/1042" and entries[5].status == 204


def test_main_output():
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip() == EXPECTED
