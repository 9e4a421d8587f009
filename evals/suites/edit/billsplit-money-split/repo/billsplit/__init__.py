from .bill import Bill
from .money import Money

__all__ = ["Bill", "Money"]
