"""`gemma-code` with no subcommand: what happens before the screen changes."""

from __future__ import annotations

from pathlib import Path

from ..conftest import run_cli


def test_resume_with_an_unknown_id_fails_before_the_app_opens(repo: Path, isolated_env):
    proc = run_cli(["--resume", "20990101-000000-abcdef"], repo, isolated_env, timeout=60)
    assert proc.returncode == 1
    assert "no saved session '20990101-000000-abcdef'" in proc.stderr


def test_continue_with_nothing_saved_says_so(repo: Path, isolated_env):
    proc = run_cli(["--continue"], repo, isolated_env, timeout=60)
    assert proc.returncode == 1
    assert "no saved session for" in proc.stderr
