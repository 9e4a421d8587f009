def low_stock(items):
    """Items that need reordering, fewest on the shelf first."""
    low = [item for item in items if item["quantity"] <= item["reorder_level"]]
    return sorted(low, key=lambda item: item["quantity"])


def order_quantity(item):
    """Order enough to get back to twice the reorder level."""
    return max(0, 2 * item["reorder_level"] - item["quantity"])
