"""Plain data types shared by the rest of the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float


@dataclass
class LineItem:
    product: Product
    quantity: int

    @property
    def total(self) -> float:
        return self.product.price * self.quantity


@dataclass
class Order:
    id: int
    lines: list[LineItem]
    total: float
    status: str = "pending"
    created_at: datetime = field(default_factory=datetime.now)
