import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

TEXT = ("The cat sat on the mat. A cat is a cat; of course the mat is to the cat "
        "what a throne is to a king.\n")


def run(tmp_path, *args):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "wordfreq", str(path), *args], cwd=HERE,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    rows = []
    for line in proc.stdout.splitlines():
        if line.strip():
            count, word = line.split()
            rows.append((word, int(count)))
    return rows


def test_default_counts_everything(tmp_path):
    rows = run(tmp_path)
    assert rows[:3] == [("a", 4), ("cat", 4), ("the", 4)]
    assert ("of", 1) in rows and ("to", 2) in rows


def test_min_length_filters_short_words(tmp_path):
    rows = run(tmp_path, "--min-length", "3")
    words = [w for w, _ in rows]
    assert all(len(w) >= 3 for w in words)
    assert rows[:3] == [("cat", 4), ("the", 4), ("mat", 2)]
    assert set(words) == {"the", "cat", "sat", "mat", "course", "what", "throne", "king"}


def test_min_length_with_top(tmp_path):
    rows = run(tmp_path, "--top", "2", "--min-length", "4")
    assert rows == [("course", 1), ("king", 1)]


def test_option_before_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("aa bbb aa cccc", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "wordfreq", "--min-length=3", str(path)],
                          cwd=HERE, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[1] for line in proc.stdout.splitlines()] == ["bbb", "cccc"]
