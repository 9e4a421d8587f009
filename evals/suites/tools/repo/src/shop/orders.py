"""Turning a cart into an order: reserve the stock, then record the order."""

from __future__ import annotations

import itertools

from .cart import Cart
from .inventory import Inventory, OutOfStockError
from .models import Order


class OrderError(Exception):
    pass


_next_id = itertools.count(1001)
ORDERS: dict[int, Order] = {}


def place_order(cart: Cart, inventory: Inventory) -> Order:
    """Reserve every line of `cart` in `inventory` and record the order.

    Either every line is reserved or none is: when one line is out of stock,
    the lines reserved before it go back to the shelf.
    """
    if not cart.items:
        raise OrderError("the cart is empty")
    reserved = []
    try:
        for line in cart.items.values():
            inventory.reserve(line.product.sku, line.quantity)
            reserved.append(line)
    except OutOfStockError as exc:
        for line in reserved:
            inventory.restock(line.product.sku, line.quantity)
        raise OrderError(str(exc)) from exc

    order = Order(id=next(_next_id), lines=list(cart.items.values()), total=cart.total())
    ORDERS[order.id] = order
    return order


def cancel_order(order_id: int, inventory: Inventory) -> Order:
    order = ORDERS.get(order_id)
    if order is None:
        raise OrderError(f"no order {order_id}")
    if order.status == "cancelled":
        return order
    for line in order.lines:
        inventory.restock(line.product.sku, line.quantity)
    order.status = "cancelled"
    return order
