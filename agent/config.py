"""Settings: one pydantic model, layered from defaults, files, environment and flags.

Precedence, lowest first: built-in defaults, the user config file
(`<platform config dir>/gemma-code/config.toml`), the project file (`.gemma-code.toml`, or
`[tool.gemma-code]` in `pyproject.toml`, at the workspace root), `GEMMA_CODE_*` environment
variables, then command-line flags.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ApprovalMode = Literal["read-only", "ask", "auto-edit", "auto"]
SandboxMode = Literal["auto", "off"]
BackendName = Literal["auto", "llama.cpp", "mlx", "scripted"]
ENV_PREFIX = "GEMMA_CODE_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        "auto",
        description="registry name or path; 'auto' = gemma-4-12b when downloaded, else the bundled model",
    )
    backend: BackendName = "auto"
    mmproj: str | None = Field(None, description="image projector GGUF for a local model path")
    image_tokens: int = Field(
        280, ge=70, le=1120,
        description="the most tokens one image may cost a vision model (Gemma 4: 70 to 1120)",
    )
    approval: ApprovalMode = "ask"
    max_steps: int = Field(40, ge=1, description="model steps per user turn")
    max_tokens: int = Field(2048, ge=16, description="tokens one model step may generate")
    context_size: int | None = Field(None, ge=512, description="None: the model's registry default")
    temperature: float | None = Field(None, ge=0, description="None: the model's registry default")
    constrain_tool_calls: bool = Field(True, description="grammar-constrained tool calls")
    shell_timeout: float = Field(120.0, gt=0, description="default seconds for run_shell")
    shell_allow: tuple[str, ...] = Field((), description="command prefixes auto-edit runs unasked")
    sandbox: SandboxMode = Field(
        "auto",
        description="'auto': confine shell commands (bubblewrap, sandbox-exec) when available, "
        "else they ask even in auto mode; 'off': run them unconfined",
    )
    network: bool = Field(False, description="let sandboxed shell commands use the network")
    checkpoints: bool = Field(True, description="snapshot the workspace before each turn's changes")
    auto_commit: bool = Field(False, description="commit each turn's changes to the git repository")
    n_gpu_layers: int = Field(-1, description="-1 offloads every layer when llama.cpp has a GPU")
    n_threads: int | None = Field(None, ge=1)


class ConfigError(Exception):
    """A config file or variable that cannot be used; the message names where it came from."""


def user_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("gemma-code")) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _project_layer(workspace: Path) -> tuple[dict[str, Any], str] | None:
    own = workspace / ".gemma-code.toml"
    if own.is_file():
        return _read_toml(own), str(own)
    pyproject = workspace / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("gemma-code")
        if section:
            return section, f"{pyproject} [tool.gemma-code]"
    return None


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if field.annotation == tuple[str, ...]:
            values[name] = tuple(item.strip() for item in raw.split(",") if item.strip())
        else:
            values[name] = None if raw.lower() in ("", "none") else raw
    return values


def load_settings(
    workspace: Path,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Effective settings and, for each field, where its value came from."""
    environ = dict(os.environ) if environ is None else environ
    layers: list[tuple[dict[str, Any], str]] = []
    user_file = user_config_path()
    if user_file.is_file():
        layers.append((_read_toml(user_file), str(user_file)))
    project = _project_layer(workspace)
    if project:
        layers.append(project)
    layers.append((_env_layer(environ), "environment"))
    layers.append(({k: v for k, v in (overrides or {}).items() if v is not None}, "command line"))

    merged: dict[str, Any] = {}
    sources = {name: "default" for name in Settings.model_fields}
    for values, origin in layers:
        unknown = set(values) - set(Settings.model_fields)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))} in {origin}")
        for key, value in values.items():
            merged[key] = value
            sources[key] = origin
    try:
        return Settings.model_validate(merged), sources
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        origin = sources.get(str(first["loc"][0]), "settings")
        raise ConfigError(f"invalid value for {field} (from {origin}): {first['msg']}") from exc
