"""Money helpers: rounding, discounts, tax, shipping and display."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .config import CURRENCY, FREE_SHIPPING_THRESHOLD, SHIPPING_FEE, TAX_RATE

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def round_money(amount: float) -> float:
    """Round to cents, halves away from zero (0.125 -> 0.13)."""
    return float(Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def apply_discount(amount: float, percent: float) -> float:
    """`amount` less `percent` per cent; percent must be between 0 and 100."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be between 0 and 100, got {percent}")
    return round_money(amount * (1 - percent / 100))


def add_tax(amount: float, rate: float = TAX_RATE) -> float:
    return round_money(amount * (1 + rate))


def shipping_cost(subtotal: float) -> float:
    # TODO: shipping should depend on the destination country
    if subtotal == 0 or subtotal >= FREE_SHIPPING_THRESHOLD:
        return 0.0
    return SHIPPING_FEE


def format_price(amount: float, currency: str = CURRENCY) -> str:
    symbol = SYMBOLS.get(currency, currency + " ")
    return f"{symbol}{amount:,.2f}"
