from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Money:
    """An amount of money, kept in whole cents."""

    cents: int
    currency: str = "USD"

    @classmethod
    def from_string(cls, text, currency="USD"):
        """'12.34' -> Money(1234)."""
        return cls(int(Decimal(text) * 100), currency)

    def _check(self, other):
        if not isinstance(other, Money) or other.currency != self.currency:
            raise TypeError(f"cannot combine {self!r} and {other!r}")

    def __add__(self, other):
        self._check(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other):
        self._check(other)
        return Money(self.cents - other.cents, self.currency)

    def __mul__(self, factor):
        return Money(self.cents * factor, self.currency)

    def __str__(self):
        amount = f"{self.cents // 100}.{self.cents % 100:02d}"
        return f"${amount}" if self.currency == "USD" else f"{amount} {self.currency}"
