import pytest

from shop.cart import Cart, UnknownDiscountCode


def test_add_merges_lines(tea):
    cart = Cart()
    cart.add(tea, 2)
    cart.add(tea)
    assert len(cart) == 3
    assert cart.subtotal() == 17.70


def test_total_adds_tax_and_shipping(tea):
    cart = Cart()
    cart.add(tea, 2)
    assert cart.total() == round(11.80 * 1.2 + 4.90, 2)


def test_discount_code_welcome10(tea, mug):
    cart = Cart()
    cart.add(mug, 5)
    cart.apply_code(" welcome10 ")
    assert cart.discount_code == "WELCOME10"
    assert cart.total() == round(60.0 * 0.9 * 1.2, 2)


def test_unknown_code_is_rejected(tea):
    cart = Cart()
    with pytest.raises(UnknownDiscountCode):
        cart.apply_code("FREESTUFF")


def test_remove(tea, mug):
    cart = Cart()
    cart.add(tea)
    cart.add(mug)
    cart.remove("TEA-001")
    assert list(cart.items) == ["MUG-001"]
