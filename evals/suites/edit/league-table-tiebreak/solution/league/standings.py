def rank(players):
    """Players in table order, best first."""
    return sorted(players, key=lambda p: (-p.points, p.played, p.name))


def format_table(players):
    lines = [f"{'#':>2}  {'player':<12} {'P':>2} {'W':>2} {'D':>2} {'L':>2} {'Pts':>4}"]
    for pos, p in enumerate(rank(players), start=1):
        lines.append(f"{pos:>2}  {p.name:<12} {p.played:>2} {p.won:>2} {p.drawn:>2} {p.lost:>2} {p.points:>4}")
    return "\n".join(lines)
