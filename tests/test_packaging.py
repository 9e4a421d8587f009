"""The package installs under one namespace, from the editable install and from a built wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_maps_the_code_folders_under_gemma_code():
    import gemma_code.agent.loop as loop
    import gemma_code.backends.scripted as scripted
    import gemma_code.tools.base as base

    assert Path(loop.__file__).parent == ROOT / "agent"
    assert Path(base.__file__).parent == ROOT / "tools"
    assert Path(scripted.__file__).parent == ROOT / "backends"


def test_built_wheel_installs_only_the_namespace_and_runs(tmp_path: Path):
    wheel_dir = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    (wheel,) = wheel_dir.glob("gemma_code-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    dist_info = {name for name in top_level if name.endswith(".dist-info")}
    assert len(dist_info) == 1 and top_level - dist_info == {"gemma_code"}
    assert "gemma_code/backends/models/models.toml" in names
    assert "gemma_code/agent/loop.py" in names
    assert {"gemma_code/agent/safety/checker.py", "gemma_code/agent/checkpoints/store.py"} <= set(names)

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    # The wheel's copy comes first on sys.path, ahead of the editable finder.
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = (
        "import gemma_code.agent.cli as c, gemma_code.backends.models.registry as r, importlib.util as u;"
        "print(c.__file__); print(len(r.load_registry()));"
        "print(u.find_spec('agent'), u.find_spec('tools'), u.find_spec('backends'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert int(out[1]) >= 4
    assert out[2] == "None None None"
    help_text = subprocess.run(
        [sys.executable, "-m", "gemma_code.agent.cli", "--help"], env=env, cwd=tmp_path,
        capture_output=True, text=True, check=True,
    ).stdout
    assert "run" in help_text and "models" in help_text
