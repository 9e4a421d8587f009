"""Command line: `shop list`, `shop stock [--low]`, `shop serve`."""

from __future__ import annotations

import argparse

from .inventory import Inventory
from .pricing import format_price
from .server import CATALOGUE, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shop")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print the catalogue")
    listing.add_argument("--category")
    stock = sub.add_parser("stock", help="print the units on hand")
    stock.add_argument("--low", action="store_true", help="only products that run low")
    serve = sub.add_parser("serve", help="start the JSON API")
    serve.add_argument("--port", type=int)
    args = parser.parse_args(argv)

    inventory = Inventory.from_csv(CATALOGUE)
    if args.command == "list":
        for p in inventory.products.values():
            if args.category is None or p.category == args.category:
                print(f"{p.sku:<8} {p.name:<28} {format_price(p.price):>9}")
    elif args.command == "stock":
        products = inventory.low_stock() if args.low else inventory.products.values()
        for p in products:
            print(f"{p.sku:<8} {inventory.stock[p.sku]:>4}")
    elif args.command == "serve":
        if args.port:
            run(port=args.port)
        else:
            run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
