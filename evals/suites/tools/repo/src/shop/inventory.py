"""Stock keeping: the catalogue with the number of units on hand."""

from __future__ import annotations

import csv
from pathlib import Path

from .config import LOW_STOCK_LEVEL
from .models import Product


class OutOfStockError(Exception):
    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"Only {available} left of {sku} (asked for {requested})")
        self.sku = sku
        self.requested = requested
        self.available = available


class Inventory:
    def __init__(self) -> None:
        self.products: dict[str, Product] = {}
        self.stock: dict[str, int] = {}

    @classmethod
    def from_csv(cls, path: str | Path) -> "Inventory":
        inventory = cls()
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                product = Product(row["sku"], row["name"], row["category"], float(row["price"]))
                inventory.add(product, int(row["stock"]))
        return inventory

    def add(self, product: Product, units: int = 0) -> None:
        self.products[product.sku] = product
        self.stock[product.sku] = self.stock.get(product.sku, 0) + units

    def reserve(self, sku: str, quantity: int) -> None:
        available = self.stock.get(sku, 0)
        if quantity > available:
            raise OutOfStockError(sku, quantity, available)
        self.stock[sku] = available - quantity

    def restock(self, sku: str, quantity: int) -> None:
        if sku not in self.products:
            raise KeyError(sku)
        self.stock[sku] += quantity

    def low_stock(self, level: int = LOW_STOCK_LEVEL) -> list[Product]:
        return [self.products[sku] for sku, units in self.stock.items() if units <= level]

    def by_category(self, category: str) -> list[Product]:
        return [p for p in self.products.values() if p.category == category]
