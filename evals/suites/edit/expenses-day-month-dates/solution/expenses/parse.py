import csv
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

DATE_FORMAT = "%d/%m/%Y"


@dataclass
class Expense:
    day: date
    category: str
    amount: Decimal


def parse_date(text):
    return datetime.strptime(text.strip(), DATE_FORMAT).date()


def read_expenses(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            Expense(parse_date(row["date"]), row["category"].strip(), Decimal(row["amount"]))
            for row in csv.DictReader(fh)
        ]
