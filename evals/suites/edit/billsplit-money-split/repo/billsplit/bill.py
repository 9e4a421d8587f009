from .money import Money


class Bill:
    def __init__(self, tip_percent=0, currency="USD"):
        self.tip_percent = tip_percent
        self.currency = currency
        self.items = []

    def add(self, name, price):
        self.items.append((name, price))

    def subtotal(self):
        total = Money(0, self.currency)
        for _, price in self.items:
            total = total + price
        return total

    def total(self):
        """Subtotal plus tip, rounded to the nearest cent."""
        sub = self.subtotal()
        tip = (sub.cents * self.tip_percent + 50) // 100
        return Money(sub.cents + tip, self.currency)

    def shares(self, people):
        """What each of `people` has to pay."""
        total = self.total()
        return [Money(total.cents // people, total.currency)] * people
