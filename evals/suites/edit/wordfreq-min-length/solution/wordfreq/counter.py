import re
from collections import Counter

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def tokenize(text):
    """Lowercased words, in order."""
    return WORD.findall(text.lower())


def count_words(text, top=None, min_length=1):
    """[(word, count)], most common first; ties in alphabetical order.

    Words shorter than `min_length` characters are ignored.
    """
    counts = Counter(word for word in tokenize(text) if len(word) >= min_length)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:top] if top is not None else ranked
