"""Markdown tables from one or more results files: the summary, the failures, and task by task."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from .agents import Metrics
from .results import RepoResult, Result, ToolCallResult


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _rate(tokens: float, seconds: float) -> str:
    return f"{tokens / seconds:.1f}" if seconds > 0 and tokens else "–"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _groups(results: Sequence[Result]) -> dict[tuple[str, str, str], list[Result]]:
    groups: dict[tuple[str, str, str], list[Result]] = defaultdict(list)
    for result in results:
        if not (isinstance(result, RepoResult) and result.skipped):
            groups[(result.suite, result.agent, result.model)].append(result)
    return dict(sorted(groups.items()))


def summary(results: Sequence[Result]) -> str:
    """One row per suite, agent and model."""
    rows = []
    for (suite, agent, model), group in _groups(results).items():
        m = Metrics.total(r.metrics for r in group)
        n = len(group)
        passed = sum(r.passed for r in group)
        seconds = sum(r.seconds for r in group)
        if isinstance(group[0], ToolCallResult):
            first = passed
            calls = sum(r.called for r in group)
            well_formed = sum(r.well_formed and r.valid_args for r in group)
        else:
            first = sum(r.first_try for r in group)
            calls, well_formed = m.tool_calls, m.tool_calls - m.malformed_calls
        rows.append([
            suite, agent, model, n, _pct(passed, n), _pct(first, n),
            _pct(well_formed, calls) if calls else "–",
            f"{m.steps / n:.1f}" if m.steps else "–",
            f"{(m.prompt_tokens + m.completion_tokens) / n:,.0f}" if m.prompt_tokens else "–",
            f"{seconds / n:.0f}",
            _rate(m.prompt_tokens - m.cached_tokens, m.prefill_seconds),
            _rate(m.completion_tokens, m.decode_seconds),
            # peers report tokens but not what their server reused
            _pct(m.cached_tokens, m.prompt_tokens) if m.prompt_tokens and m.prefill_seconds else "–",
        ])
    return _table(["suite", "agent", "model", "tasks", "pass", "first try", "well-formed calls",
                   "steps/task", "tokens/task", "s/task", "prefill tok/s", "decode tok/s",
                   "cache reuse"], rows)


def failure_cause(result: Result) -> str:
    """Why a task did not pass, in words the next round of work can act on."""
    if isinstance(result, ToolCallResult):
        if not result.called:
            return "no tool call"
        if not result.well_formed:
            return "malformed call"
        if not result.valid_args:
            return "arguments fail the schema"
        return "wrong arguments" if result.right_tool else "wrong tool"
    last = result.tries[-1]
    if last.timed_out:
        return "timed out"
    reason = last.metrics.end_reason
    if reason == "LimitsExceeded":  # mini-swe-agent's step limit (its cost limit is off)
        reason = "max_steps"
    if reason in ("max_steps", "repeated", "context_full", "length", "error"):
        return {"max_steps": "step limit", "repeated": "loop (same call repeated)",
                "context_full": "context full", "length": "answer cut off",
                "error": "agent error"}[reason]
    if reason not in ("", "answered", "Submitted"):
        return f"agent stopped: {reason}"  # a peer's own reason, e.g. mini-swe-agent's RepeatedFormatError
    if last.exit_code not in (0, None):
        return f"agent exited {last.exit_code}"
    if all(attempt.changed == [] for attempt in result.tries):
        return "finished without changing a file"
    return "finished, check failed"


def failures(results: Sequence[Result]) -> str:
    """Counts of failure causes per suite and agent, and the tool-call problems seen on the way."""
    rows = []
    for (suite, agent, model), group in _groups(results).items():
        causes = Counter(failure_cause(r) for r in group if not r.passed)
        m = Metrics.total(r.metrics for r in group)
        calls = "–" if isinstance(group[0], ToolCallResult) or not m.tool_calls else (
            f"{m.malformed_calls} malformed, {m.tool_errors} tool errors, {m.repeated_calls} repeats "
            f"of {m.tool_calls} calls")
        text = ", ".join(f"{cause} {count}" for cause, count in causes.most_common()) or "none"
        rows.append([suite, agent, model, sum(not r.passed for r in group), text, calls])
    return _table(["suite", "agent", "model", "failed", "why", "tool calls over all tries"], rows)


def tool_errors(results: Sequence[Result]) -> str:
    """Tool errors by kind, and edits of files the agent had not read, where the agent reports them."""
    rows = []
    for (suite, agent, model), group in _groups(results).items():
        m = Metrics.total(r.metrics for r in group)
        if not (m.error_kinds or m.edits):
            continue
        kinds = ", ".join(f"{kind} {count}" for kind, count in Counter(m.error_kinds).most_common())
        rows.append([suite, agent, model, m.tool_calls, m.tool_errors, kinds or "–",
                     f"{m.edits_unread} of {m.edits}" if m.edits else "–"])
    if not rows:
        return ""
    return _table(["suite", "agent", "model", "tool calls", "tool errors", "by kind",
                   "edits of files not read first"], rows)


def by_task(results: Sequence[Result]) -> str:
    """Repository tasks side by side: pass (1st or 2nd try) and seconds, per agent and model."""
    columns = sorted({(r.agent, r.model) for r in results if isinstance(r, RepoResult)})
    cells: dict[tuple[str, str], dict[tuple[str, str], str]] = defaultdict(dict)
    difficulty = {}
    for r in results:
        if not isinstance(r, RepoResult):
            continue
        difficulty[(r.suite, r.task)] = r.difficulty
        if r.skipped:
            cell = "n/a"
        elif r.passed:
            cell = f"pass{'' if r.first_try else ' (2nd)'} {r.seconds:.0f} s"
        else:
            cell = f"fail: {failure_cause(r)} {r.seconds:.0f} s"
        cells[(r.suite, r.task)][(r.agent, r.model)] = cell
    if not cells:
        return ""
    rows = [[suite, task, difficulty[(suite, task)], *(cells[(suite, task)].get(col, "") for col in columns)]
            for suite, task in sorted(cells)]
    return _table(["suite", "task", "level", *(f"{agent} ({model})" for agent, model in columns)], rows)


def by_expected_tool(results: Sequence[Result]) -> str:
    """Tool-choice prompts by the tool they expect first: passed, and what went wrong instead."""
    rows: dict[tuple[str, str, str], list[ToolCallResult]] = defaultdict(list)
    for r in results:
        if isinstance(r, ToolCallResult) and r.expected:
            rows[(r.agent, r.model, r.expected[0])].append(r)
    if not rows:
        return ""
    lines = []
    for (agent, model, tool), group in sorted(rows.items()):
        causes = Counter(failure_cause(r) for r in group if not r.passed)
        lines.append([agent, model, tool, len(group), sum(r.passed for r in group),
                      ", ".join(f"{c} {n}" for c, n in causes.most_common()) or "–"])
    return _table(["agent", "model", "expected tool", "prompts", "passed", "misses"], lines)


def report(results: Sequence[Result]) -> str:
    parts = ["## Summary", "", summary(results), "", "## Failures", "", failures(results)]
    errors = tool_errors(results)
    if errors:
        parts += ["", "## Tool errors by kind", "", errors]
    tools = by_expected_tool(results)
    if tools:
        parts += ["", "## Tool choice by expected tool", "", tools]
    tasks = by_task(results)
    if tasks:
        parts += ["", "## Task by task", "", tasks]
    return "\n".join(parts) + "\n"
