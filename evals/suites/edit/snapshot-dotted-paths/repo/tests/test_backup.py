from datetime import datetime

from snapshot import backup_name, make_backup


def test_backup_name():
    assert backup_name("report.txt", "S") == "report.S.txt"
    assert backup_name("Makefile", "S") == "Makefile.S"


def test_make_backup(tmp_path):
    src = tmp_path / "report.txt"
    src.write_text("hello")
    target = make_backup(src, datetime(2024, 5, 1, 9, 30))
    assert target == str(tmp_path / "report.20240501-0930.txt")
    assert open(target).read() == "hello"
