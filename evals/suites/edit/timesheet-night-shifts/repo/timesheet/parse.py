import re
from datetime import datetime

from .shifts import Shift

LINE = re.compile(r"(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})\s+(\S+)")


def parse_line(line):
    match = LINE.fullmatch(line.strip())
    if not match:
        raise ValueError(f"bad shift line: {line.strip()!r}")
    day, start, end, worker = match.groups()
    return Shift(
        worker=worker,
        start=datetime.strptime(f"{day} {start}", "%Y-%m-%d %H:%M"),
        end=datetime.strptime(f"{day} {end}", "%Y-%m-%d %H:%M"),
    )


def read_shifts(path):
    with open(path, encoding="utf-8") as fh:
        return [parse_line(line) for line in fh
                if line.strip() and not line.lstrip().startswith("#")]
