import re

UNITS = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text):
    """'1h30m' -> 5400, '45s' -> 45, '2h' -> 7200. Raises ValueError for anything else."""
    text = text.strip().lower()
    match = UNITS.fullmatch(text)
    if not text or not match:
        raise ValueError(f"invalid duration: {text!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
