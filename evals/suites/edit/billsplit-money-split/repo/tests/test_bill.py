from billsplit import Bill, Money


def test_money():
    assert Money.from_string("18.50") + Money(150) == Money(2000)
    assert str(Money(2005)) == "$20.05"
    assert str(Money(700, "EUR")) == "7.00 EUR"


def test_total_with_tip():
    bill = Bill(tip_percent=10)
    bill.add("pizza", Money.from_string("18.50"))
    bill.add("salad", Money.from_string("9.00"))
    assert bill.total() == Money(3025)


def test_even_shares():
    bill = Bill()
    bill.add("menu", Money(9000))
    assert bill.shares(3) == [Money(3000)] * 3
