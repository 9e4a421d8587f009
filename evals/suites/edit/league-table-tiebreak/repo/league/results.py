import csv

from .models import Player

WIN, DRAW = 3, 1


def read_results(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [(h.strip(), a.strip(), int(hs), int(as_)) for h, a, hs, as_ in csv.reader(fh)]


def build_table(results):
    """{name: Player} from (home, away, home_score, away_score) tuples."""
    table = {}
    for home, away, home_score, away_score in results:
        h = table.setdefault(home, Player(home))
        a = table.setdefault(away, Player(away))
        h.played += 1
        a.played += 1
        if home_score > away_score:
            h.won += 1
            a.lost += 1
            h.points += WIN
        elif home_score < away_score:
            a.won += 1
            h.lost += 1
            a.points += WIN
        else:
            h.drawn += 1
            a.drawn += 1
            h.points += DRAW
            a.points += DRAW
    return table
