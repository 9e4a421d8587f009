import sys

from .alerts import low_stock, order_quantity
from .inventory import load


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("low", "order"):
        print("usage: python -m stockroom {low,order} INVENTORY.json", file=sys.stderr)
        return 2
    command, path = argv
    for item in low_stock(load(path)):
        if command == "low":
            print(f"{item['sku']:<8} {item['name']:<20} {item['quantity']:>4} left")
        else:
            print(f"{item['sku']:<8} {item['name']:<20} order {order_quantity(item)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
