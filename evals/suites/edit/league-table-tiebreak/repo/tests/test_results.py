from league.results import build_table


def test_points():
    table = build_table([("A", "B", 3, 0), ("B", "C", 2, 2)])
    assert (table["A"].points, table["B"].points, table["C"].points) == (3, 1, 1)
    assert table["B"].played == 2
