"""Settings for the shop, read from the environment with sensible defaults."""

import os

HOST = os.environ.get("SHOP_HOST", "127.0.0.1")
PORT = int(os.environ.get("SHOP_PORT", "8080"))
DATABASE_PATH = os.environ.get("SHOP_DB", "data/shop.sqlite3")

CURRENCY = "EUR"
TAX_RATE = 0.2
FREE_SHIPPING_THRESHOLD = 50.00
SHIPPING_FEE = 4.90

# Products with this many units or fewer show up in `shop stock --low`.
LOW_STOCK_LEVEL = 5
