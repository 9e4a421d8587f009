"""Parsing our access log format:

    203.0.113.7 [2024-05-06T09:14:02] "GET /api/orders" 200 38ms
"""

import re
from dataclasses import dataclass

LINE = re.compile(
    r'^(?P<ip>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<method>[A-Z]+) (?P<path>\S+)" '
    r'(?P<status>\d{3}) (?P<ms>\d+)ms$'
)


@dataclass
class Entry:
    ip: str
    time: str
    method: str
    path: str
    status: int
    ms: int


def parse_line(line):
    match = LINE.match(line.strip())
    return Entry(
        ip=match.group("ip"),
        time=match.group("time"),
        method=match.group("method"),
        path=match.group("path"),
        status=int(match.group("status")),
        ms=int(match.group("ms")),
    )


def parse_file(path):
    with open(path, encoding="utf-8") as f:
        return [parse_line(line) for line in f if line.strip()]
