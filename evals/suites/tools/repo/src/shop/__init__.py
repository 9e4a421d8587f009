"""Corner Shop: catalogue, cart, stock and orders."""

__version__ = "0.4.1"
