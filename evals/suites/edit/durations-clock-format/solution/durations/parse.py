import re

UNITS = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d\d)")


def parse_duration(text):
    """'1h30m' -> 5400, '45s' -> 45, '2h' -> 7200, '1:30:00' -> 5400, '4:05' -> 245.

    Raises ValueError for anything else.
    """
    text = text.strip().lower()
    clock = CLOCK.fullmatch(text)
    if clock:
        hours, minutes, seconds = (int(g) if g else 0 for g in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    match = UNITS.fullmatch(text)
    if not text or not match:
        raise ValueError(f"invalid duration: {text!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
