import pytest

from shop.cart import Cart
from shop.inventory import Inventory, OutOfStockError
from shop.orders import OrderError, cancel_order, place_order


def test_reserve_takes_units(inventory):
    inventory.reserve("TEA-001", 4)
    assert inventory.stock["TEA-001"] == 6


def test_reserve_too_many_raises(inventory):
    with pytest.raises(OutOfStockError) as info:
        inventory.reserve("MUG-001", 3)
    assert info.value.available == 2


def test_low_stock(inventory):
    assert [p.sku for p in inventory.low_stock()] == ["MUG-001"]


def test_from_csv_reads_seed_catalogue():
    inv = Inventory.from_csv("data/products.csv")
    assert inv.stock["COF-003"] == 0
    assert len(inv.by_category("tea")) == 3


def test_failed_order_puts_stock_back(inventory, tea, mug):
    cart = Cart()
    cart.add(tea, 3)
    cart.add(mug, 5)
    with pytest.raises(OrderError):
        place_order(cart, inventory)
    assert inventory.stock == {"TEA-001": 10, "MUG-001": 2}


def test_cancel_order_restocks(inventory, tea):
    cart = Cart()
    cart.add(tea, 4)
    order = place_order(cart, inventory)
    cancel_order(order.id, inventory)
    assert inventory.stock["TEA-001"] == 10
