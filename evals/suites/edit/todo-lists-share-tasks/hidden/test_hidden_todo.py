from todo import Task, TodoList


def test_lists_do_not_share_tasks():
    work = TodoList("work")
    home = TodoList("home")
    work.add("write report")
    home.add("water plants")
    assert [t.text for t in work.items] == ["write report"]
    assert [t.text for t in home.items] == ["water plants"]


def test_new_list_starts_empty_after_others_were_used():
    first = TodoList("a")
    first.add("one")
    first.add("two")
    assert TodoList("b").items == []
    assert TodoList("c").pending() == []
    assert TodoList("d").render() == "# d"


def test_initial_items_still_accepted():
    todos = TodoList("errands", [Task("buy milk")])
    todos.add("post letter")
    assert [t.text for t in todos.items] == ["buy milk", "post letter"]
    todos.complete("buy milk")
    assert [t.text for t in todos.pending()] == ["post letter"]
