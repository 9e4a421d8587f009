from dataclasses import dataclass

VAT_RATE = 0.21


@dataclass
class Line:
    description: str
    quantity: int
    unit_price: float

    @property
    def amount(self):
        return round(self.quantity * self.unit_price, 2)


@dataclass
class Invoice:
    number: str
    customer: str
    lines: list

    @classmethod
    def from_dict(cls, data):
        lines = [Line(l["description"], int(l["quantity"]), float(l["unit_price"])) for l in data["lines"]]
        return cls(data["number"], data["customer"], lines)

    def subtotal(self):
        return round(sum(line.amount for line in self.lines), 2)

    def vat(self):
        return round(self.subtotal() * VAT_RATE, 2)

    def total(self):
        return round(self.subtotal() + self.vat(), 2)
