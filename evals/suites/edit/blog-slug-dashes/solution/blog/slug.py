import re


def slugify(title):
    """Make a URL slug from a title: lowercase words joined by single dashes."""
    text = title.strip().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text)
    return text.strip("-")
