"""Date helpers for the ticket export."""

from datetime import date, datetime, timedelta

# The helpdesk export writes one date per ticket in the "opened" column.
DATE_FORMAT = "%d/%m/%Y"


def parse_date(text: str) -> date:
    return datetime.strptime(text.strip(), DATE_FORMAT).date()


def week_start(day: date) -> date:
    """The Monday of the week `day` falls in."""
    return day - timedelta(days=day.weekday())
