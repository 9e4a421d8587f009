import pytest

from billsplit import Bill, Money


def cents(parts):
    return [p.cents for p in parts]


def test_split_examples():
    assert cents(Money(1000).split(3)) == [334, 333, 333]
    assert cents(Money(1001).split(2)) == [501, 500]
    assert cents(Money(1100).split(4)) == [275, 275, 275, 275]
    assert cents(Money(1000).split(1)) == [1000]
    assert cents(Money(2).split(5)) == [1, 1, 0, 0, 0]


@pytest.mark.parametrize("amount", [0, 1, 99, 1000, 12345, 10001])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 12])
def test_split_adds_up(amount, n):
    parts = Money(amount).split(n)
    assert len(parts) == n
    assert sum(cents(parts)) == amount
    assert max(cents(parts)) - min(cents(parts)) <= 1
    assert cents(parts) == sorted(cents(parts), reverse=True)


def test_split_keeps_currency():
    parts = Money(100, "EUR").split(3)
    assert all(isinstance(p, Money) and p.currency == "EUR" for p in parts)
    assert str(parts[0]) == "0.34 EUR"


@pytest.mark.parametrize("n", [0, -2])
def test_split_rejects_bad_counts(n):
    with pytest.raises(ValueError):
        Money(1000).split(n)


def test_bill_shares_add_up():
    bill = Bill()
    bill.add("dinner", Money.from_string("100.00"))
    shares = bill.shares(3)
    assert cents(shares) == [3334, 3333, 3333]
    assert sum(cents(shares)) == bill.total().cents


def test_bill_shares_with_tip():
    bill = Bill(tip_percent=15)
    bill.add("pizza", Money.from_string("18.50"))
    bill.add("wine", Money.from_string("23.99"))
    shares = bill.shares(4)
    assert sum(cents(shares)) == bill.total().cents
    assert max(cents(shares)) - min(cents(shares)) <= 1
