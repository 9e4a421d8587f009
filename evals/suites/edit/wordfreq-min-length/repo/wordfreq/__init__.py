from .counter import count_words, tokenize

__all__ = ["count_words", "tokenize"]
