"""Settings: one pydantic model, layered from defaults, files, environment and flags.

Precedence, lowest first: built-in defaults, the user config file
(`<platform config dir>/gemma-code/config.toml`), the project file (`.gemma-code.toml`, or
`[tool.gemma-code]` in `pyproject.toml`, at the workspace root), `GEMMA_CODE_*` environment
variables, then command-line flags.

A file inside the workspace (the project's, or the user's own when the workspace holds it) is
one the agent could write: what it sets that lowers safety (fields marked `lowers_safety`) is
ignored, and reported, until the person trusts that content (`agent/trust.py`).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gemma_code.tools import unknown_tools

from .trust import Ignored, ProjectConfig, TrustOffer, TrustStore, ignored_notice, settings_digest

ApprovalMode = Literal["read-only", "ask", "auto-edit", "auto"]
SandboxMode = Literal["auto", "off"]
BackendName = Literal["auto", "llama.cpp", "mlx", "scripted", "openai"]
ENV_PREFIX = "GEMMA_CODE_"


def _lowers_safety(*safe: object) -> dict[str, Any]:
    """Field marker: a workspace file may set only `safe` values (the default, when none are
    given) unless the person trusts the project."""
    return {"lowers_safety": True, "safe": list(safe)}


# A server's tools are named SERVER__TOOL: a server name may not hold "__" itself.
_SERVER_NAME = re.compile(r"[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*")


class McpServer(BaseModel):
    """One `[mcp_servers.NAME]` table, as Codex CLI and Claude Code write it: `command`, `args`,
    `env`, `cwd` start a stdio server; `url`, `headers` reach a streamable HTTP one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["stdio", "http", "streamable-http"] | None = None  # Claude Code writes it
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    approval: Literal["ask", "auto"] = Field(
        "ask", description="'auto': the server's tools run without asking")
    timeout: float = Field(60.0, gt=0, description="seconds to start, and for each call")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a stdio server) or url (streamable HTTP)")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        "auto",
        description="registry name or path; 'auto' = gemma-4-12b when downloaded, else the bundled model",
    )
    # "scripted" plays a JSON file back as the model: a project must not pick its own model.
    backend: BackendName = Field("auto", json_schema_extra=_lowers_safety("auto", "llama.cpp", "mlx"))
    mmproj: str | None = Field(None, description="image projector GGUF for a local model path")
    # Where the code goes: a project must not send it to a server of its choosing.
    base_url: str | None = Field(
        None, description="an OpenAI-compatible server (URL, or ollama, lmstudio, vllm, "
        "llama-server) for the openai backend", json_schema_extra=_lowers_safety(None),
    )
    api_key_env: str | None = Field(
        None, description="the environment variable holding the server's API key",
        json_schema_extra=_lowers_safety(None),
    )
    image_tokens: int = Field(
        280, ge=70, le=1120,
        description="the most tokens one image may cost a vision model (Gemma 4: 70 to 1120)",
    )
    approval: ApprovalMode = Field("ask", json_schema_extra=_lowers_safety("read-only", "ask"))
    max_steps: int = Field(40, ge=1, description="model steps per user turn")
    max_tokens: int = Field(2048, ge=16, description="tokens one model step may generate")
    context_size: int | None = Field(None, ge=512, description="None: the model's registry default")
    compact_at: float = Field(
        0.75, gt=0, le=1, description="share of the context at which old tool outputs are "
        "masked and, if that is not enough, the conversation is compacted into a summary (1: never)",
    )
    temperature: float | None = Field(None, ge=0, description="None: the model's registry default")
    constrain_tool_calls: bool = Field(True, description="grammar-constrained tool calls")
    edit_guards: bool = Field(
        True, description="no edit of a file not read, a whole-file write after two failed edits "
        "of a file, one nudge for a fix written as prose",
    )
    syntax_guard: bool = Field(
        True, description="refuse an edit or write that breaks the syntax of a file that parsed "
        "(tree-sitter; files over 1 MB or in a language without a grammar are not checked)",
    )
    retry_temperature: float = Field(
        0.7, ge=0, description="a step that repeats an earlier call is sampled once more at "
        "this temperature before the turn ends (0: off)",
    )
    shell_timeout: float = Field(120.0, gt=0, description="default seconds for run_shell")
    shell_allow: tuple[str, ...] = Field(
        (), description="command prefixes auto-edit runs unasked", json_schema_extra=_lowers_safety(),
    )
    sandbox: SandboxMode = Field(
        "auto",
        description="'auto': confine shell commands (bubblewrap, sandbox-exec) when available, "
        "else they ask even in auto mode; 'off': run them unconfined",
        json_schema_extra=_lowers_safety(),
    )
    network: bool = Field(False, description="let sandboxed shell commands use the network",
                          json_schema_extra=_lowers_safety())
    shell_env_pass: tuple[str, ...] = Field(
        (), description="credential-looking environment variables sandboxed commands still get "
        "(names or globs, e.g. AWS_PROFILE); all others are left out",
        json_schema_extra=_lowers_safety(),
    )
    checkpoints: bool = Field(True, description="snapshot the workspace before each turn's changes",
                              json_schema_extra=_lowers_safety())
    # Commits run the repository's hooks and configuration on the host.
    auto_commit: bool = Field(False, description="commit each turn's changes to the git repository",
                              json_schema_extra=_lowers_safety())
    n_gpu_layers: int = Field(-1, description="-1 offloads every layer when llama.cpp has a GPU")
    n_threads: int | None = Field(
        None, ge=1, description="llama.cpp threads for decoding and prefill; None: one per physical core",
    )
    draft: Literal["auto", "off", "lookup"] = Field(
        "auto", description="speculative decoding on llama.cpp, drafting from the context: "
        "'lookup' always, 'auto' paused while drafts keep missing, 'off' never",
    )
    tools: tuple[str, ...] | None = Field(
        None, description="the tools offered to the model, by name; None: the model's profile "
        "in the registry (every tool for most models)",
    )
    repo_map_tokens: int | None = Field(
        None, ge=0, description="tokens of repo map in the first message; None: the model's "
        "profile, else 1/32 of the context, at most 2048; 0: no map",
    )
    context_files_tokens: int | None = Field(
        None, ge=0, description="tokens of the files a message points at (traceback frames, "
        "named files and definitions), attached before step 1; None: the model's profile, else "
        "1/8 of the context, at most 4096; 0: none",
    )
    # The tests run like the model's own commands (sandbox, approval), so a project's own
    # test_command lowers nothing that its Makefile or AGENTS.md could not.
    verify: Literal["auto", "off"] = Field(
        "auto", description="'auto': run the project's tests when a turn changed files and give "
        "the model the failures; 'off': never",
    )
    verify_rounds: int = Field(2, ge=0, description="how often a turn goes on to fix failing tests")
    test_command: str | None = Field(
        None, description="the command that runs the tests; None: found in AGENTS.md, pytest's "
        "configuration, package.json, a Makefile or a tests/ folder",
    )
    verify_timeout: float | None = Field(
        None, gt=0, description="seconds before the test command is killed; None: shell_timeout",
    )

    # A server runs code of its own: a project must not start one until it is trusted.
    mcp_servers: dict[str, McpServer] = Field(
        {}, description="MCP servers whose tools the model gets, as SERVER__TOOL "
        "([mcp_servers.NAME]: command, args, env, cwd or url, headers; approval, timeout)",
        json_schema_extra=_lowers_safety({}),
    )

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, servers: dict[str, McpServer]) -> dict[str, McpServer]:
        for name in servers:
            if not _SERVER_NAME.fullmatch(name):
                raise ValueError(f"MCP server name {name!r}: letters, digits, - and single _ only")
        return servers

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is not None and (problem := unknown_tools(names)):
            raise ValueError(problem)
        return names


class ConfigError(Exception):
    """A config file or variable that cannot be used; the message names where it came from."""


def user_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("gemma-code")) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {(exc.strerror or str(exc)).lower()}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


PROJECT_FILE = ".gemma-code.toml"


def lowers_safety(name: str, value: Any) -> bool:
    """Whether a workspace file setting `name` to `value` needs the person's trust."""
    field = Settings.model_fields[name]
    extra = field.json_schema_extra
    if not isinstance(extra, dict) or not extra.get("lowers_safety"):
        return False
    safe = extra.get("safe") or [field.default]
    normal = list(value) if isinstance(value, (list, tuple)) else value
    return all(normal != (list(s) if isinstance(s, (list, tuple)) else s) for s in safe)


@dataclass(frozen=True)
class _Layer:
    values: dict[str, Any]
    origin: str  # as `gemma-code config` names it
    label: str = ""  # set when the workspace holds the file: its name there (the agent could write it)


def _label(path: Path, workspace: Path, section: str = "") -> str:
    resolved = path.resolve()
    if not resolved.is_relative_to(workspace):
        return ""
    inside = path if path.is_relative_to(workspace) else resolved
    return f"{inside.relative_to(workspace)}{section}"


def _user_layer(workspace: Path) -> _Layer | None:
    path = user_config_path()
    if not path.is_file():
        return None
    return _Layer(_read_toml(path), str(path), _label(path, workspace))


def _project_layer(workspace: Path, problems: list[str]) -> _Layer | None:
    own, pyproject = workspace / PROJECT_FILE, workspace / "pyproject.toml"
    path, section = (own, "") if own.is_file() else (pyproject, " [tool.gemma-code]")
    if not path.is_file():
        return None
    if not _label(path, workspace):  # a link out: not the project's own file
        if not section:
            problems.append(f"ignored {path}: it links to {path.resolve()}, outside the workspace")
        return None
    values = _read_toml(path)
    if section:
        tool = values.get("tool")
        values = tool.get("gemma-code") if isinstance(tool, dict) else None
        if not values:
            return None
        if not isinstance(values, dict):
            raise ConfigError(f"cannot read {path}: [tool.gemma-code] must be a table")
    return _Layer(values, f"{path}{section}", _label(path, workspace, section))


# Settings that are tables of named entries: the layers' tables are merged, not replaced.
_TABLES_BY_NAME = ("mcp_servers",)


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        variable = ENV_PREFIX + name.upper()
        raw = environ.get(variable)
        if raw is None:
            continue
        if name in _TABLES_BY_NAME:  # JSON, as in `{"docs": {"url": "http://127.0.0.1:8000/mcp"}}`
            try:
                values[name] = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as exc:
                raise ConfigError(f"cannot read {variable}: it must be a JSON object ({exc})") from exc
        elif field.annotation == tuple[str, ...] | None and raw.lower() in ("", "none"):
            values[name] = None
        elif field.annotation in (tuple[str, ...], tuple[str, ...] | None):
            values[name] = tuple(item.strip() for item in raw.split(",") if item.strip())
        else:
            values[name] = None if raw.lower() in ("", "none") else raw
    return values


@dataclass(frozen=True)
class LoadedSettings:
    """Settings with where each came from, and what a workspace file set that was not taken."""

    settings: Settings
    sources: dict[str, str]
    ignored: tuple[Ignored, ...] = ()  # safety-lowering values of untrusted workspace files
    project: ProjectConfig | None = None  # the workspace's own config files, when it has any
    problems: tuple[str, ...] = ()  # files left out, and why

    def ignored_in_effect(self) -> tuple[Ignored, ...]:
        """The ignored values that nothing later (environment, command line) set anyway."""
        later = ("environment", "command line")
        return tuple(i for i in self.ignored if self.sources[i.name] not in later)

    def notices(self) -> list[str]:
        """Lines to tell the person before anything runs."""
        shown = self.ignored_in_effect()
        said = [ignored_notice(self.project, shown)] if shown and self.project else []
        return [*self.problems, *said]

    def offer(self, if_trusted: Settings | None) -> TrustOffer | None:
        """What the TUI says at start and, when there is something to trust, asks
        (`if_trusted`: the settings trusting gives; None when they are not valid)."""
        notices, project = tuple(self.notices()), self.project
        askable = project is not None and project.state != "unusable" and if_trusted is not None
        if not askable or not self.ignored_in_effect():
            return TrustOffer(notices) if notices else None
        return TrustOffer(notices, project, self.ignored, if_trusted, TrustStore())


def load_config(
    workspace: Path,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    *,
    store: TrustStore | None = None,
    trusted: bool | None = None,
) -> LoadedSettings:
    """The effective settings. `trusted` None: the workspace's files are trusted as the store
    says; True or False: as if they were (the TUI's offer) or were not (`gemma-code trust`)."""
    workspace = Path(workspace).resolve()
    environ = dict(os.environ) if environ is None else environ
    problems: list[str] = []
    files = [layer for layer in (_user_layer(workspace), _project_layer(workspace, problems)) if layer]
    project = _project_config(workspace, [f for f in files if f.label], store or TrustStore())
    if trusted is None:
        trusted = project is not None and project.state == "trusted"
    layers = [*files, _Layer(_env_layer(environ), "environment"),
              _Layer({k: v for k, v in (overrides or {}).items() if v is not None}, "command line")]
    merged, sources, ignored = _merge(layers, trusted)
    return LoadedSettings(_validate(merged, sources), sources, tuple(ignored), project, tuple(problems))


def load_settings(
    workspace: Path,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Effective settings and, for each field, where its value came from (see `load_config`)."""
    loaded = load_config(workspace, overrides, environ)
    return loaded.settings, loaded.sources


def _project_config(workspace: Path, guarded: list[_Layer], store: TrustStore) -> ProjectConfig | None:
    if not guarded:
        return None
    digest = settings_digest([(layer.label, layer.values) for layer in guarded])
    return ProjectConfig(workspace, digest, tuple(layer.label for layer in guarded),
                         store.state(workspace, digest), store.unusable_for(workspace))


def _merge(layers: list[_Layer], trusted: bool) -> tuple[dict[str, Any], dict[str, str], list[Ignored]]:
    merged: dict[str, Any] = {}
    sources = {name: "default" for name in Settings.model_fields}
    ignored: list[Ignored] = []
    for layer in layers:
        unknown = set(layer.values) - set(Settings.model_fields)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))} in {layer.origin}")
        for key, value in layer.values.items():
            if layer.label and not trusted and lowers_safety(key, value):
                ignored.append(Ignored(key, value, layer.origin))
            elif key in _TABLES_BY_NAME and isinstance(value, dict) and isinstance(merged.get(key), dict):
                # each layer adds its servers; a server of the same name is replaced whole
                merged[key] = {**merged[key], **value}
                sources[key] = f"{sources[key]} + {layer.origin}"
            else:
                merged[key], sources[key] = value, layer.origin
    return merged, sources, ignored


def _validate(merged: dict[str, Any], sources: dict[str, str]) -> Settings:
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        origin = sources.get(str(first["loc"][0]), "settings")
        raise ConfigError(f"invalid value for {field} (from {origin}): {first['msg']}") from exc
