"""`gemma-code models` and `gemma-code pull NAME`: the two model commands, as the CLI calls them."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from gemma_code.backends.registry import (
    ModelError,
    ModelSpec,
    format_size,
    get_spec,
    is_present,
    load_registry,
)


def cmd_models(as_json: bool, out: TextIO | None = None) -> int:
    """List the registry: name, backend, size, present or not, description (or JSON with `as_json`)."""
    out = out or sys.stdout
    try:
        rows = [(spec, is_present(spec)) for spec in load_registry().values()]
    except ModelError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    if as_json:
        json.dump([_as_json(spec, present) for spec, present in rows], out, indent=2)
        out.write("\n")
        return 0
    table = [
        (
            spec.name,
            spec.backend,
            format_size(spec.size_bytes),
            "present" if present else "not present",
            spec.description,
        )
        for spec, present in rows
    ]
    w = [max(len(row[column]) for row in table) for column in range(4)]
    for name, backend, size, state, description in table:
        print(f"{name:<{w[0]}}  {backend:<{w[1]}}  {size:>{w[2]}}  {state:<{w[3]}}  {description}", file=out)
    return 0


def cmd_pull(name: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Download (or assemble) a registry model; 0 and its path on success, 1 and a reason on failure."""
    from gemma_code.backends.download import pull

    out, err = out or sys.stdout, err or sys.stderr
    try:
        path = pull(get_spec(name), progress=True)
    except (ModelError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=err)
        return 1
    print(f"{name}: {path}", file=out)
    return 0


def _as_json(spec: ModelSpec, present: bool) -> dict[str, Any]:
    return {**spec.model_dump(mode="json"), "size": format_size(spec.size_bytes), "present": present}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
