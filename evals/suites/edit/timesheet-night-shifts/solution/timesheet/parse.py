import re
from datetime import datetime, timedelta

from .shifts import Shift

LINE = re.compile(r"(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})\s+(\S+)")


def parse_line(line):
    match = LINE.fullmatch(line.strip())
    if not match:
        raise ValueError(f"bad shift line: {line.strip()!r}")
    day, start, end, worker = match.groups()
    start_at = datetime.strptime(f"{day} {start}", "%Y-%m-%d %H:%M")
    end_at = datetime.strptime(f"{day} {end}", "%Y-%m-%d %H:%M")
    if end_at <= start_at:
        end_at += timedelta(days=1)  # the shift runs past midnight
    return Shift(worker=worker, start=start_at, end=end_at)


def read_shifts(path):
    with open(path, encoding="utf-8") as fh:
        return [parse_line(line) for line in fh
                if line.strip() and not line.lstrip().startswith("#")]
