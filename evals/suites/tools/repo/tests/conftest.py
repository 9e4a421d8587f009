import pytest

from shop.inventory import Inventory
from shop.models import Product

TEA = Product("TEA-001", "Earl Grey tea (100 g)", "tea", 5.90)
MUG = Product("MUG-001", "Stoneware mug", "kitchen", 12.00)


@pytest.fixture
def tea():
    return TEA


@pytest.fixture
def mug():
    return MUG


@pytest.fixture
def inventory():
    inv = Inventory()
    inv.add(TEA, 10)
    inv.add(MUG, 2)
    return inv
