"""What a run records: one result per task, saved as JSON with the conditions it ran under."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .agents import Metrics


class Try(BaseModel):
    """One attempt of an agent at a repository task, and its hidden check."""

    seconds: float
    exit_code: int | None
    timed_out: bool
    metrics: Metrics
    passed: bool
    changed: list[str] | None = None  # files that differ from the task's start (None: not recorded)
    check_output: str = ""
    log: str = ""  # the agent's output files, relative to the results file


class RepoResult(BaseModel):
    kind: Literal["repo"] = "repo"
    suite: str
    task: str
    difficulty: str
    agent: str
    model: str
    passed: bool
    first_try: bool
    skipped: str | None = None  # why the agent could not be given this task
    tries: list[Try] = Field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.tries)

    @property
    def metrics(self) -> Metrics:
        return Metrics.total(attempt.metrics for attempt in self.tries)


class ToolCallResult(BaseModel):
    """One single-turn prompt of a tool suite and the first call the model made."""

    kind: Literal["tools"] = "tools"
    suite: str
    task: str
    agent: str
    model: str
    expected: list[str] = Field(default_factory=list)  # the tools an expected call uses
    called: bool  # the model made a call at all
    well_formed: bool  # parsed and names a known tool
    valid_args: bool  # the arguments pass the tool's schema
    right_tool: bool
    passed: bool  # a call that matches one of the expected ones
    problem: str = ""  # why it did not pass
    call: dict[str, Any] | None = None
    text: str = ""  # what the model wrote besides the call (truncated)
    seconds: float
    metrics: Metrics


Result = RepoResult | ToolCallResult


class RunFile(BaseModel):
    meta: dict[str, Any]
    results: list[RepoResult | ToolCallResult]


def conditions(**settings: Any) -> dict[str, Any]:
    """The run's settings and the machine it ran on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        **settings,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "cpu": _cpu_name(),
        "llama_cpp": _llama_cpp_features(),
        "load_at_start": [round(x, 2) for x in load] if load else None,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _llama_cpp_features() -> str:
    """What llama.cpp was built to use here (`AVX2 AVX512 AMX_INT8 ...`), and whether the AMX
    workaround is on: timings from different builds or CPUs do not compare."""
    try:
        import llama_cpp

        from gemma_code.backends.llama_cpp import uses_amx
    except ImportError:
        return "not installed"
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    features = " ".join(name.split(":")[-1].strip() for name, _, value in
                        (part.partition("=") for part in info.split("|")) if value.strip() == "1")
    return features + (" (AMX buffers off: gemma-code's workaround)" if uses_amx() else "")


def save(path: Path, meta: dict[str, Any], results: list[Result]) -> None:
    data = RunFile(meta=meta, results=results).model_dump(mode="json")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: Path) -> RunFile:
    return RunFile.model_validate_json(path.read_text(encoding="utf-8"))
