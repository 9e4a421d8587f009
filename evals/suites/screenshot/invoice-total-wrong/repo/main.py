import json

from invoicing.model import Invoice
from invoicing.printing import render

if __name__ == "__main__":
    with open("data/invoice-2024-031.json", encoding="utf-8") as f:
        print(render(Invoice.from_dict(json.load(f))))
