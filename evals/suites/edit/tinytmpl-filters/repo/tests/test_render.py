import pytest

from tinytmpl import TemplateError, render


class User:
    def __init__(self, name):
        self.name = name


def test_variables():
    assert render("Hi {{ user.name }}!", {"user": User("Ada")}) == "Hi Ada!"
    assert render("{{a}}+{{ b }}", {"a": 1, "b": {"c": 2}}) == "1+{'c': 2}"


def test_missing_variable():
    with pytest.raises(TemplateError):
        render("{{ nope }}", {})


def test_unclosed_tag():
    with pytest.raises(TemplateError):
        render("Hi {{ name", {"name": "x"})
