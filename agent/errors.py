"""Exceptions as one sentence for people: what is wrong, without Python's reprs."""

from __future__ import annotations


def error_sentence(exc: BaseException) -> str:
    """Our own errors speak for themselves; a file error says which file and what is wrong
    (not `[Errno 2] ...`); a builtin one (a bug, usually) says so and names its type."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror[0].lower()}{exc.strerror[1:]}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if (type(exc).__module__ != "builtins" or isinstance(exc, (OSError, ValueError))) and text:
        return text
    return (f"an internal error ({type(exc).__name__}{': ' + text if text else ''}); "
            "GEMMA_CODE_DEBUG=1 shows the traceback, worth reporting")
