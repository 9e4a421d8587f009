def units_by_location(rows):
    """Total units per location, locations in alphabetical order."""
    totals = {}
    for row in rows:
        location = row["location"]
        totals[location] = totals.get(location, 0) + row["quantity"]
    return dict(sorted(totals.items()))


def units_by_sku(rows):
    totals = {}
    for row in rows:
        totals[row["sku"]] = totals.get(row["sku"], 0) + int(row["quantity"])
    return totals
