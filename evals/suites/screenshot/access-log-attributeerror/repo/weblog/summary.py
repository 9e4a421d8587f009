from collections import Counter


def summarize(entries, slowest=3):
    lines = [f"{len(entries)} requests"]
    for status, count in sorted(Counter(e.status for e in entries).items()):
        lines.append(f"  {status}: {count}")
    lines.append("Slowest:")
    for e in sorted(entries, key=lambda e: e.ms, reverse=True)[:slowest]:
        lines.append(f"  {e.ms:>5}ms  {e.method} {e.path}")
    return "\n".join(lines)
