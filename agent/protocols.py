"""The seams between the parts: Backend, Tool, Approver, Workspace, and the data they pass.

Each protocol is small on purpose. Concrete classes live elsewhere (`backends/`, `tools/`,
`agent/approval.py`, `agent/workspace.py`); this module imports nothing heavy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .events import BackendEvent, ToolErrorKind
from .messages import Message, Part, TextPart, ToolCall


@dataclass(frozen=True)
class ToolSpec:
    """What a backend tells the model about a tool."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 2048
    temperature: float | None = None  # None: the model's own default
    tool_choice: Literal["auto", "required", "none"] = "auto"
    constrain_tool_calls: bool = True  # grammar-constrained tool calls where supported
    cancel: threading.Event | None = None


class AgentProfile(BaseModel):
    """What of the harness a model is given, decided per model from the eval suites
    (`[models.NAME.profile]` in the registry; evals/RESULTS.md has the measurements)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: tuple[str, ...] | None = None  # the tools offered, by name; None: every tool
    # token budgets of the repo map and of the files a message points at (None: the defaults,
    # scaled to the context); the settings of the same names override them
    repo_map_tokens: int | None = Field(default=None, ge=0)
    context_files_tokens: int | None = Field(default=None, ge=0)
    mcp: bool = True  # False: the tools of MCP servers are not offered to this model


@runtime_checkable
class Backend(Protocol):
    """A local model. It owns prompt rendering, tool-call parsing and its cache."""

    name: str
    context_size: int
    vision: bool  # reads images itself; without it images reach the model as OCR text
    profile: AgentProfile  # what of the harness this model is given

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: GenerationOptions
    ) -> Iterator[BackendEvent]:
        """Generate one assistant step; ends with exactly one `Usage` event."""
        ...

    def close(self) -> None: ...


class ToolError(Exception):
    """A failure the model caused and can fix: it becomes a tool result, not a crash.

    `kind` says what went wrong, for those who count failures (the eval harness)."""

    def __init__(self, message: str, kind: ToolErrorKind = "other") -> None:
        super().__init__(message)
        self.kind: ToolErrorKind = kind


@dataclass(frozen=True)
class ToolResult:
    content: tuple[Part, ...]
    is_error: bool = False
    summary: str = ""
    diff: str | None = None
    exit_code: int | None = None
    error_kind: ToolErrorKind | None = None  # when is_error; None there counts as "other"

    @classmethod
    def text(cls, text: str, **kwargs: Any) -> ToolResult:
        return cls(content=(TextPart(text=text),), **kwargs)

    def with_note(self, note: str) -> ToolResult:
        """The same result with a line for the model appended."""
        return replace(self, content=(*self.content, TextPart(text=note)))

    @classmethod
    def error(cls, message: str, kind: ToolErrorKind = "other") -> ToolResult:
        return cls(content=(TextPart(text=f"Error: {message}"),), is_error=True, summary=message,
                   error_kind=kind)


@runtime_checkable
class Workspace(Protocol):
    """The directory the agent may touch. Every file and shell tool goes through it."""

    root: Path

    def resolve(self, path: str | Path, *, write: bool = False) -> Path:
        """An absolute path inside the workspace, or ToolError."""
        ...

    def relative(self, path: Path) -> str:
        """How to show `path` to the model and the user."""
        ...

    def files(self, start: Path | None = None, cancel: threading.Event | None = None) -> list[Path]:
        """The files under `start` (default: the root) that git would not ignore, sorted."""
        ...


@runtime_checkable
class ShellSandbox(Protocol):
    """Confines shell commands: the workspace writable, the rest read-only, network by policy."""

    name: str  # what the user is told, e.g. "bubblewrap"

    def wrap(self, argv: Sequence[str], root: Path) -> list[str]:
        """The command line that runs `argv` inside the sandbox, with `root` writable."""
        ...


@dataclass
class ToolContext:
    workspace: Workspace
    cancel: threading.Event = field(default_factory=threading.Event)
    shell_timeout: float = 120.0
    sandbox: ShellSandbox | None = None  # None: shell commands run unconfined
    # sha256 of each file as the agent last read or wrote it: edits of a file changed since fail.
    seen: dict[Path, str] = field(default_factory=dict)
    vision: bool = False  # the model reads images itself (else tools hand it OCR text)
    network: bool = False  # tools may reach hosts other than this machine
    # Edit rules for small models (the `edit_guards` setting): no edit of a file not read (in
    # `seen`), and a second failed edit of a file in one turn asks for a whole-file write.
    edit_guards: bool = False
    edit_failures: dict[Path, int] = field(default_factory=dict)  # this turn's, per file
    # The `syntax_guard` setting: no edit or write that breaks the syntax of a file that parsed.
    syntax_guard: bool = False
    # Gets a running command's output as it comes (None: nobody watches); see events.ToolOutput.
    output: Callable[[str], None] | None = None


@runtime_checkable
class Tool(Protocol):
    """A callable the model may use. The JSON schema comes from `Args`, never by hand.

    A tool may also define `check(args, ctx)`, a dry run that raises ToolError for a call
    that cannot work, so nobody is asked to approve it; it may return the diff the call
    would make, which the person sees when asked; and `approval_action`, what the approval
    prompt says a mutating call wants to do (default: "change files")."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    mutating: ClassVar[bool]
    runs_commands: ClassVar[bool]

    def __call__(self, args: Any, ctx: ToolContext) -> ToolResult: ...


@dataclass(frozen=True)
class ApprovalRequest:
    call: ToolCall
    tool: str
    reason: str
    command: str | None = None  # for shell calls: what would run
    can_remember: bool = True  # False: "approve always" is not offered (dangerous commands)


@dataclass(frozen=True)
class ApprovalDecision:
    approved: bool
    note: str = ""
    remember: bool = False  # approve this tool (or command prefix) for the rest of the session


class Approver(Protocol):
    """Decides whether a mutating call that needs approval may run."""

    def decide(self, request: ApprovalRequest) -> ApprovalDecision: ...
