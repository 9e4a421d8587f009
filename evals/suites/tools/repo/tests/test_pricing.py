import pytest

from shop.pricing import add_tax, apply_discount, format_price, round_money, shipping_cost


def test_round_money_rounds_halves_up():
    assert round_money(0.125) == 0.13
    assert round_money(2.675) == 2.68


def test_apply_discount():
    assert apply_discount(100.0, 10) == 90.0
    assert apply_discount(19.99, 0) == 19.99


@pytest.mark.parametrize("percent", [-5, 101])
def test_apply_discount_rejects_out_of_range(percent):
    with pytest.raises(ValueError):
        apply_discount(10.0, percent)


def test_add_tax_uses_default_rate():
    assert add_tax(10.0) == 12.0


def test_shipping_is_free_above_threshold():
    assert shipping_cost(49.99) == 4.90
    assert shipping_cost(50.00) == 0.0
    assert shipping_cost(0) == 0.0


def test_format_price():
    assert format_price(1234.5) == "€1,234.50"
    assert format_price(3, "USD") == "$3.00"
