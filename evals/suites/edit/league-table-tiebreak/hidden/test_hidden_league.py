import subprocess
import sys
from pathlib import Path

from league.models import Player
from league.standings import rank

HERE = Path(__file__).resolve().parent


def names(players):
    return [p.name for p in rank(players)]


def test_points_first():
    players = [Player("Ann", points=3, played=2), Player("Bob", points=9, played=5),
               Player("Cy", points=6, played=1)]
    assert names(players) == ["Bob", "Cy", "Ann"]


def test_ties_alphabetical():
    players = [Player("Zoe", points=4, played=3), Player("Adam", points=4, played=3),
               Player("Mia", points=4, played=3)]
    assert names(players) == ["Adam", "Mia", "Zoe"]


def test_ties_fewer_games_first():
    players = [Player("Adam", points=6, played=4), Player("Zoe", points=6, played=2),
               Player("Mia", points=6, played=3), Player("Liam", points=7, played=9),
               Player("Ben", points=6, played=2)]
    assert names(players) == ["Liam", "Ben", "Zoe", "Mia", "Adam"]


def test_cli_order(tmp_path):
    results = tmp_path / "results.csv"
    # Adam and Zoe: 3 points from 1 game each; Mia: 3 points from 3 games;
    # Ken: 2 points from 2 games; Liam: 1 point from 3 games.
    results.write_text("Zoe,Liam,3,0\nAdam,Liam,2,1\nMia,Liam,1,1\nMia,Ken,1,1\nKen,Mia,2,2\n",
                       encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "league", str(results)], cwd=HERE,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    order = [line.split()[1] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert order == ["Adam", "Zoe", "Mia", "Ken", "Liam"]
