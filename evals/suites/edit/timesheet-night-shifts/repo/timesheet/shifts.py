from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Shift:
    worker: str
    start: datetime
    end: datetime

    @property
    def hours(self):
        return abs((self.end - self.start).total_seconds()) / 3600


def find_overlaps(shifts):
    """Pairs of shifts of the same worker that overlap in time."""
    overlaps = []
    by_worker = {}
    for shift in shifts:
        by_worker.setdefault(shift.worker, []).append(shift)
    for worker in sorted(by_worker):
        ordered = sorted(by_worker[worker], key=lambda s: s.start)
        for earlier, later in zip(ordered, ordered[1:]):
            if later.start < earlier.end:
                overlaps.append((earlier, later))
    return overlaps
