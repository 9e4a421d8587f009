def completion(done, total):
    """Share of the sprint's tickets that are done, in whole percent (0-100)."""
    if total == 0:
        return 0
    return round(100 * done / total)
