from wordfreq import count_words, tokenize


def test_tokenize():
    assert tokenize("It's a dog's life, isn't it?") == ["it's", "a", "dog's", "life", "isn't", "it"]


def test_count_words_top():
    assert count_words("b a b c a b", top=2) == [("b", 3), ("a", 2)]
