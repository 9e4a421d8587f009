import pytest

from durations import format_duration, parse_duration


def test_parse():
    assert parse_duration("1h30m") == 5400
    assert parse_duration("45s") == 45
    assert parse_duration("2H") == 7200


def test_parse_invalid():
    for bad in ("", "abc", "5", "1x"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_format():
    assert format_duration(5400) == "1h 30m"
    assert format_duration(3602) == "1h 2s"
    assert format_duration(0) == "0s"
