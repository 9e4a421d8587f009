"""Split a list of results into numbered pages (page numbers start at 1)."""


def page_count(total, per_page):
    """How many pages are needed to show `total` items, `per_page` at a time."""
    if per_page <= 0:
        raise ValueError("per_page must be positive")
    return total // per_page


def get_page(items, page, per_page):
    """Return the items on page `page`."""
    if page < 1 or page > page_count(len(items), per_page):
        raise IndexError(f"page {page} out of range")
    start = (page - 1) * per_page
    return items[start:start + per_page]


def page_label(page, total, per_page):
    """A footer such as 'Page 2 of 3'."""
    return f"Page {page} of {page_count(total, per_page)}"
