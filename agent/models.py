"""Models: open the one the settings name, name it for people, list and pull registry models.

The CLI, `run` and the TUI all come here; heavy libraries are imported only for the backend
chosen. The temperature is not set here: it reaches sampling through `GenerationOptions`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from gemma_code.backends.models.registry import (
    auto_spec,
    default_model_name,
    get_spec,
    is_present,
    load_registry,
    resolve_model,
)
from gemma_code.backends.models.spec import ModelError, ModelSpec, ResolvedModel, format_size

from .config import Settings
from .protocols import Backend, Tool

__all__ = [
    "BackendOpener", "ModelEntry", "ModelError", "Notice", "auto_model_name", "list_models",
    "llama_threads", "model_label", "model_names", "offered_tools", "open_backend", "open_backend_with_progress",
    "print_models", "print_server_models", "pull_model", "uses_server",
]


class Notice(Protocol):
    """Receives one-line status messages while a model loads."""

    def __call__(self, text: str) -> None: ...


Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
BackendOpener = Callable[[Settings, Notice], Backend]


def _quiet(text: str) -> None:
    pass


def open_backend(settings: Settings, notice: Notice = _quiet, progress: Progress | None = None) -> Backend:
    """Load the model the settings name; `notice` receives one-line status messages and
    `progress` the first-run assembly of a bundled model."""
    if settings.backend == "scripted":
        from gemma_code.backends.scripted import ScriptedBackend, load_script

        if settings.model == "auto":
            raise ModelError("the scripted backend needs --model path/to/script.json")
        return ScriptedBackend(load_script(settings.model), context_size=settings.context_size or 32768)
    if uses_server(settings):
        return _open_server(settings)
    resolved = resolve_model(settings.model, settings.mmproj, progress=progress or _announcer(notice))
    spec = resolved.spec
    default = default_model_name()
    if settings.model == "auto" and spec.name != default:
        notice(f"{default} is not downloaded; using the bundled {spec.name} "
               f"(`gemma-code pull {default}` gets the default model)")
    kind = spec.backend if settings.backend == "auto" else settings.backend
    if kind != spec.backend:
        raise ModelError(f"{spec.name} is a {spec.backend} model; it cannot run on {kind}")
    context_size = settings.context_size or spec.context_size
    if kind == "mlx":
        return _open_mlx(resolved.path, spec, context_size, settings.image_tokens)
    return _open_llama(resolved, spec, context_size, settings, notice)


def offered_tools(settings: Settings, backend: Backend, mcp: Sequence[Tool] = ()) -> list[Tool]:
    """The tools the model is given: the `tools` setting, else its registry profile's; then
    the tools of MCP servers (`mcp`), unless the profile says `mcp = false`."""
    from gemma_code.tools import default_tools

    chosen = default_tools(settings.tools if settings.tools is not None else backend.profile.tools)
    return [*chosen, *mcp] if backend.profile.mcp else chosen


def open_backend_with_progress(settings: Settings, notice: Notice) -> Backend:
    """`open_backend`, with the notice's own `progress` method (if it has one) taking progress."""
    return open_backend(settings, notice, getattr(notice, "progress", None))


def _announcer(notice: Notice) -> Progress:
    """A progress callback that only says, once, that the bundled model is being assembled."""
    announced = False

    def announce(done: int, total: int) -> None:
        nonlocal announced
        if not announced:
            notice(f"assembling the bundled model ({total / 1e9:.1f} GB, first run only)...")
            announced = True

    return announce


def _open_llama(resolved: ResolvedModel, spec: ModelSpec, context_size: int, settings: Settings,
                notice: Notice) -> Backend:
    from gemma_code.backends.llama_cpp import LlamaCppBackend

    if spec.vision and resolved.mmproj is None:
        notice(f"{spec.name}: its image projector is not downloaded, so images are read with "
               f"OCR (`gemma-code pull {spec.name}` fetches it)")
    backend = LlamaCppBackend(
        resolved.path, context_size=context_size,
        sampling=spec.sampling, chat_format=spec.chat_format, n_gpu_layers=settings.n_gpu_layers,
        n_threads=settings.n_threads, mmproj=resolved.mmproj, image_tokens=settings.image_tokens,
        draft=settings.draft, profile=spec.profile,
    )
    if backend.vision_error:
        notice(f"{backend.vision_error}; images are read with OCR instead")
    return backend


def uses_server(settings: Settings) -> bool:
    """Whether the model runs on an OpenAI-compatible server (`--backend openai`, or a
    `--base-url` with the backend left to choose)."""
    return settings.backend == "openai" or (settings.backend == "auto" and bool(settings.base_url))


def _open_server(settings: Settings) -> Backend:
    from gemma_code.backends.openai_backend import PRESETS, connect

    if not settings.base_url:
        raise ModelError("the openai backend needs --base-url URL (or a preset: "
                         f"{', '.join(PRESETS)})")
    return connect(settings.base_url, settings.model, settings.api_key_env, settings.context_size)


def print_server_models(base_url: str, api_key_env: str | None, as_json: bool,
                        out: TextIO | None = None) -> int:
    """`gemma-code models --base-url URL`: the models the server lists (or JSON)."""
    from gemma_code.backends.openai_backend import list_served_models

    out = out or sys.stdout
    try:
        served = list_served_models(base_url, api_key_env)
    except ModelError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    if as_json:
        json.dump([{"id": m.id, "context_size": m.context_size} for m in served], out, indent=2)
        out.write("\n")
        return 0
    for model in served:
        size = f"  context {model.context_size}" if model.context_size else ""
        print(f"{model.id}{size}", file=out)
    return 0


def _open_mlx(path: Path, spec: ModelSpec, context_size: int, image_tokens: int) -> Backend:
    try:
        from gemma_code.backends.mlx_backend import MlxBackend
    except ImportError as exc:
        raise ModelError(
            f"the MLX backend needs mlx and mlx-lm ({exc.name or exc} is missing): "
            "pip install 'gemma-code[mlx]'"
        ) from None
    return MlxBackend(path, context_size=context_size, sampling=spec.sampling,
                      chat_format=spec.chat_format, image_tokens=image_tokens, profile=spec.profile)


def llama_threads(settings: Settings) -> tuple[int, str]:
    """The threads llama.cpp computes on under `settings`, and why (`gemma-code config`)."""
    from gemma_code.backends.threads import choose_threads

    choice = choose_threads(settings.n_threads)
    return choice.count, choice.reason


def auto_model_name() -> str:
    """What `--model auto` loads, by name."""
    try:
        return auto_spec().name
    except ModelError:
        return "auto"


def model_label(settings: Settings) -> str:
    """The model's name as people know it: the registry name, or the file's name."""
    if uses_server(settings):
        return settings.model
    if settings.model == "auto":
        return auto_model_name()
    if "/" in settings.model or settings.model.endswith((".gguf", ".json")):
        return Path(settings.model).name
    return settings.model


@dataclass(frozen=True)
class ModelEntry:
    """A registry model, and whether it is on this machine."""

    spec: ModelSpec
    present: bool

    @property
    def size(self) -> str:
        return format_size(self.spec.size_bytes)

    def as_json(self) -> dict[str, Any]:
        return {**self.spec.model_dump(mode="json"), "size": self.size, "present": self.present}


def list_models() -> list[ModelEntry]:
    """Every model the registry knows, in its order (`/model` and `gemma-code models`).

    Raises ModelError when the registry cannot be read."""
    return [ModelEntry(spec, is_present(spec)) for spec in load_registry().values()]


def model_names() -> list[str]:
    """The registry's model names, without looking for their files (for completion)."""
    return list(load_registry())


def print_models(as_json: bool, out: TextIO | None = None) -> int:
    """`gemma-code models`: name, backend, size, present or not, description (or JSON)."""
    out = out or sys.stdout
    try:
        entries = list_models()
    except ModelError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    if as_json:
        json.dump([entry.as_json() for entry in entries], out, indent=2)
        out.write("\n")
        return 0
    table = [(e.spec.name, e.spec.backend, e.size, "present" if e.present else "not present",
              e.spec.description) for e in entries]
    w = [max(len(row[column]) for row in table) for column in range(4)]
    for name, backend, size, state, description in table:
        print(f"{name:<{w[0]}}  {backend:<{w[1]}}  {size:>{w[2]}}  {state:<{w[3]}}  {description}", file=out)
    return 0


def pull_model(name: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`gemma-code pull NAME` and `/pull NAME`: download (or assemble) a registry model;
    0 and its path on success, 1 and a reason on failure."""
    from gemma_code.backends.models.download import pull

    out, err = out or sys.stdout, err or sys.stderr
    try:
        path = pull(get_spec(name), progress=True)
    except (ModelError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=err)
        return 1
    print(f"{name}: {path}", file=out)
    return 0


def _one_line(exc: BaseException) -> str:
    from .errors import error_sentence

    return error_sentence(exc)
