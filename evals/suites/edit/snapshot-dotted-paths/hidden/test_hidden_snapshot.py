import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from snapshot import backup_name, make_backup

HERE = Path(__file__).resolve().parent
WHEN = datetime(2024, 5, 1, 9, 30)


def test_names():
    assert str(backup_name("report.txt", "S")) == "report.S.txt"
    assert str(backup_name("Makefile", "S")) == "Makefile.S"
    assert str(backup_name(os.path.join("work", "v1.2", "notes"), "S")) == os.path.join("work", "v1.2", "notes.S")
    assert str(backup_name(os.path.join("work", "v1.2", "notes.md"), "S")) == os.path.join("work", "v1.2", "notes.S.md")
    assert str(backup_name(os.path.join("home", ".bashrc"), "S")) == os.path.join("home", ".bashrc.S")
    assert str(backup_name(".bashrc", "S")) == ".bashrc.S"


def test_backup_in_dotted_folder(tmp_path):
    folder = tmp_path / "v1.2"
    folder.mkdir()
    src = folder / "notes"
    src.write_text("draft")
    target = make_backup(src, WHEN)
    assert Path(target) == folder / "notes.20240501-0930"
    assert Path(target).read_text() == "draft"


def test_backup_dotfile(tmp_path):
    src = tmp_path / ".bashrc"
    src.write_text("alias ll='ls -l'")
    target = make_backup(src, WHEN)
    assert Path(target) == tmp_path / ".bashrc.20240501-0930"
    assert Path(target).read_text() == "alias ll='ls -l'"


def test_cli(tmp_path):
    folder = tmp_path / "site.v2"
    folder.mkdir()
    (folder / "index.html").write_text("<p>hi</p>")
    (folder / "LICENSE").write_text("MIT")
    proc = subprocess.run([sys.executable, "-m", "snapshot", str(folder / "index.html"),
                           str(folder / "LICENSE")], cwd=HERE, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 4
    assert [n for n in names if n.startswith("LICENSE.")]
    assert [n for n in names if n.startswith("index.") and n.endswith(".html") and n != "index.html"]
