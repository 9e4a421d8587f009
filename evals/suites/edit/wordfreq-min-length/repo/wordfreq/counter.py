import re
from collections import Counter

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def tokenize(text):
    """Lowercased words, in order."""
    return WORD.findall(text.lower())


def count_words(text, top=None):
    """[(word, count)], most common first; ties in alphabetical order."""
    counts = Counter(tokenize(text))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:top] if top is not None else ranked
