import pytest

from tinytmpl import TemplateError, render


class User:
    def __init__(self, name, nickname=""):
        self.name = name
        self.nickname = nickname


def test_case_filters():
    ctx = {"name": "ada LOVELACE"}
    assert render("{{ name|upper }}", ctx) == "ADA LOVELACE"
    assert render("{{ name|lower }}", ctx) == "ada lovelace"
    assert render("{{ name|title }}", ctx) == "Ada Lovelace"


def test_chain_left_to_right():
    ctx = {"name": "aDA lovelace"}
    assert render("{{ name|lower|title }}", ctx) == "Ada Lovelace"
    assert render("{{ name|title|upper }}", ctx) == "ADA LOVELACE"
    assert render("{{ name|upper|lower }}", ctx) == "ada lovelace"


def test_spaces_around_pipes():
    assert render("<{{ name | upper }}>", {"name": "x"}) == "<X>"
    assert render("<{{name|lower|title}}>", {"name": "BOB"}) == "<Bob>"
    assert render("<{{  name |  lower  | title  }}>", {"name": "BOB"}) == "<Bob>"


def test_filters_on_dotted_names():
    assert render("Dear {{ user.name|upper }},", {"user": User("Grace")}) == "Dear GRACE,"
    assert render("{{ a.b|title }}", {"a": {"b": "mr smith"}}) == "Mr Smith"


def test_default_for_missing_variable():
    assert render('Hi {{ user.nickname|default:"friend" }}!', {"user": {"name": "Ada"}}) == "Hi friend!"
    assert render('Hi {{ nobody|default:"dear reader" }}!', {}) == "Hi dear reader!"


def test_default_for_empty_string():
    assert render('Hi {{ user.nickname|default:"friend" }}!', {"user": User("Ada")}) == "Hi friend!"


def test_default_keeps_real_values():
    assert render('Hi {{ user.nickname|default:"friend" }}!', {"user": User("Ada", "Countess")}) == "Hi Countess!"
    assert render('{{ count|default:"none" }}', {"count": 3}) == "3"


def test_default_then_other_filters():
    assert render('{{ nick|default:"anon"|upper }}', {}) == "ANON"
    assert render('{{ nick | default:"anon" | upper }}', {"nick": "zed"}) == "ZED"


def test_unknown_filter():
    with pytest.raises(TemplateError) as info:
        render("{{ name|shout }}", {"name": "x"})
    assert "shout" in str(info.value)


def test_missing_variable_without_default_still_errors():
    with pytest.raises(TemplateError):
        render("{{ nope|upper }}", {})
    with pytest.raises(TemplateError):
        render("{{ nope }}", {})


def test_plain_variables_unchanged():
    assert render("{{a}} and {{ b.c }}", {"a": 1, "b": {"c": "two"}}) == "1 and two"
    assert render("no tags here", {}) == "no tags here"
