import pytest

from pager import get_page, page_count


def test_exact_pages():
    assert page_count(20, 10) == 2
    assert get_page(list(range(20)), 2, 10) == list(range(10, 20))


def test_bad_per_page():
    with pytest.raises(ValueError):
        page_count(5, 0)
