import pytest

from pager import get_page, page_count, page_label


def test_partial_last_page_counts():
    assert page_count(25, 10) == 3
    assert page_count(1, 10) == 1
    assert page_count(11, 5) == 3


def test_exact_multiple_unchanged():
    assert page_count(20, 10) == 2
    assert page_count(10, 10) == 1


def test_last_page_reachable():
    items = list(range(25))
    assert get_page(items, 3, 10) == [20, 21, 22, 23, 24]
    assert get_page(items, 1, 10) == list(range(10))
    with pytest.raises(IndexError):
        get_page(items, 4, 10)
    with pytest.raises(IndexError):
        get_page(items, 0, 10)


def test_label():
    assert page_label(3, 25, 10) == "Page 3 of 3"
