from todo import Task, TodoList


def test_add_and_complete():
    todos = TodoList("errands", [Task("buy milk")])
    todos.add("post letter")
    todos.complete("buy milk")
    assert [t.text for t in todos.pending()] == ["post letter"]


def test_render():
    todos = TodoList("errands", [Task("buy milk", done=True), Task("post letter")])
    assert todos.render() == "# errands\n[x] buy milk\n[ ] post letter"
