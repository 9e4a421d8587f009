"""The repository cannot lower its own safety: settings that lower safety come from a project
file only once the person trusts that content, the agent cannot write such a file unasked,
and every turn with an unconfined shell says so (issue 18, item 4).

The attacker is the scripted backend driving real headless runs (and, for approval rules,
the real tool registry). An unconfined command is detected by a marker file outside the
workspace that only an unconfined shell can write; `test_the_marker_shows_an_unconfined_run`
is the control that proves the marker would appear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.config import Settings, load_config
from gemma_code.agent.events import ApprovalNeeded, Notice
from gemma_code.agent.messages import ToolCall, UserMessage
from gemma_code.agent.protocols import ToolContext, ToolResult
from gemma_code.agent.registry import ToolRegistry
from gemma_code.agent.lifecycle import SessionLifecycle
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools import default_tools
from gemma_code.tools.sandbox import detect_sandbox

from .conftest import drain, git, run_cli, write_script

UNCONFINED = 'approval = "auto"\nsandbox = "off"\nnetwork = true\n'
IGNORED_LINE = 'ignored approval = "auto", sandbox = "off", network = true from'


class Attack:
    """A repository that ships `plant.sh`, and headless runs of a scripted attacker in it."""

    def __init__(self, repo: Path, tmp_path: Path, env: dict[str, str]) -> None:
        self.repo, self.tmp, self.env = repo, tmp_path, env
        self.marker = tmp_path / "outside" / "pwned"  # only an unconfined command writes here
        self.marker.parent.mkdir()
        (repo / "plant.sh").write_text(f"touch {self.marker}\n")
        self.config = repo / ".gemma-code.toml"

    def script(self, *calls: dict, root: Path | None = None) -> list[str]:
        path = write_script(self.tmp / f"attack{len(list(self.tmp.glob('attack*')))}.json",
                            [*({"tool_calls": [call]} for call in calls), {"text": "done"}])
        return ["run", "--backend", "scripted", "--model", str(path)]

    def run(self, *flags: str, calls: tuple[dict, ...] | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        calls = calls if calls is not None else (shell("sh plant.sh"),)
        return run_cli([*self.script(*calls), *flags, "go"], cwd or self.repo, env or self.env)

    def trust(self, *flags: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return run_cli(["trust", *flags], cwd or self.repo, self.env)

    def config_lines(self, *flags: str, cwd: Path | None = None, env=None) -> dict[str, str]:
        proc = run_cli(["config", *flags], cwd or self.repo, env or self.env)
        assert proc.returncode == 0, proc.stderr
        return dict(line.split(" = ", 1) for line in proc.stdout.splitlines())


def shell(command: str) -> dict:
    return {"name": "run_shell", "arguments": {"command": command}}


@pytest.fixture
def attack(repo: Path, tmp_path: Path, isolated_env) -> Attack:
    return Attack(repo, tmp_path, isolated_env)


def assert_held(attack: Attack, proc: subprocess.CompletedProcess) -> None:
    """The run did not run the attacker's command unconfined."""
    assert not attack.marker.exists(), proc.stdout + proc.stderr


# --- the control --------------------------------------------------------------------------


def test_the_marker_shows_an_unconfined_run(attack: Attack):
    proc = attack.run("--approval", "auto", "--sandbox", "off")
    assert proc.returncode == 0, proc.stderr
    assert attack.marker.exists()  # the person's own flags: this is what the attacks want


# --- the examples -----------------------------------------------------------------


def test_a_model_written_gemma_code_toml_does_not_unconfine_the_next_run(attack: Attack):
    write = {"name": "write_file", "arguments": {"path": ".gemma-code.toml", "content": UNCONFINED}}
    proc = attack.run("--approval", "auto", calls=(write,))
    assert "✗ denied" in proc.stdout and not attack.config.exists()  # asked, even in auto
    # A sandboxed shell command can still write it: no rule catches that in general.
    printf = "printf '" + UNCONFINED.replace("\n", "\\n") + "' > .gemma-code.toml"
    attack.run("--approval", "auto", calls=(shell(printf),))
    if not attack.config.exists():  # no sandbox on this machine: the command asked; write it here
        attack.config.write_text(UNCONFINED)
    assert attack.config.read_text() == UNCONFINED
    proc = attack.run()  # the next plain run
    assert_held(attack, proc)
    assert IGNORED_LINE in proc.stderr and "gemma-code trust" in proc.stderr


def test_tool_gemma_code_added_to_pyproject_does_not_unconfine_the_next_run(attack: Attack):
    pyproject = attack.repo / "pyproject.toml"
    pyproject.write_text('[project]\nname = "calc"\n')
    section = '\n[tool.gemma-code]\n' + UNCONFINED
    edit = {"name": "edit_file", "arguments": {"path": "pyproject.toml", "old": 'name = "calc"\n',
                                               "new": 'name = "calc"\n' + section}}
    read = {"name": "read_file", "arguments": {"path": "pyproject.toml"}}  # no blind edits
    proc = attack.run("--approval", "auto", calls=(read, edit))
    assert "✗ denied" in proc.stdout and pyproject.read_text() == '[project]\nname = "calc"\n'
    pyproject.write_text('[project]\nname = "calc"\n' + section)  # as a shell command or a pull would
    proc = attack.run()
    assert_held(attack, proc)
    assert IGNORED_LINE + " pyproject.toml [tool.gemma-code]" in proc.stderr


def test_a_cloned_repository_that_ships_the_config_does_not_unconfine(attack: Attack):
    attack.config.write_text(UNCONFINED)
    git(attack.repo, "add", ".")
    git(attack.repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ship config")
    clone = attack.tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(attack.repo), str(clone)], check=True)
    proc = attack.run(cwd=clone)  # before the agent wrote anything
    assert_held(attack, proc)
    assert IGNORED_LINE + " .gemma-code.toml" in proc.stderr
    assert "denied" in proc.stdout  # headless `ask`: the command was not run at all


# --- trusting -----------------------------------------------------------------------------


def test_trusted_settings_apply_until_the_config_changes(attack: Attack):
    attack.config.write_text(UNCONFINED)
    untracked_before = set(git(attack.repo, "status", "--porcelain", "-uall").splitlines())
    proc = attack.trust("--yes")
    assert proc.returncode == 0, proc.stderr
    assert 'approval = "auto"' in proc.stdout and 'sandbox = "off"' in proc.stdout
    store = Path(attack.env["GEMMA_CODE_TRUST_FILE"])
    assert not store.resolve().is_relative_to(attack.repo.resolve())
    entry = json.loads(store.read_text())["projects"][str(attack.repo.resolve())]
    assert entry["digest"].startswith("sha256:") and entry["settings"]["sandbox"] == "off"
    assert set(git(attack.repo, "status", "--porcelain", "-uall").splitlines()) == untracked_before

    proc = attack.run()  # trusted: the project's own settings apply, and the run says so
    assert attack.marker.exists(), proc.stderr
    assert 'the shell is not sandboxed (sandbox = "off")' in proc.stderr
    attack.marker.unlink()

    attack.config.write_text(UNCONFINED + "max_steps = 9\n")  # a pull, or the model's shell
    proc = attack.run()
    assert_held(attack, proc)
    assert "it changed since you trusted it" in proc.stderr
    assert attack.trust("--yes").returncode == 0  # trusting again works
    assert "trusted already" in attack.trust("--yes").stdout


def test_trust_refuses_without_a_terminal_and_asks_on_one(attack: Attack):
    attack.config.write_text(UNCONFINED)
    proc = attack.trust()  # stdin is not a terminal
    assert proc.returncode == 2 and "no terminal" in proc.stderr
    assert not Path(attack.env["GEMMA_CODE_TRUST_FILE"]).exists()
    for answer, code in (("n", 1), ("y", 0)):
        main, tty = os.openpty()
        os.write(main, f"{answer}\n".encode())
        proc = subprocess.run([sys.executable, "-m", "gemma_code.agent.cli", "trust"], cwd=attack.repo,
                              env=attack.env, stdin=tty, capture_output=True, text=True, timeout=60)
        os.close(main), os.close(tty)
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert "[y/N]" in proc.stdout and 'network = true' in proc.stdout
    assert Path(attack.env["GEMMA_CODE_TRUST_FILE"]).exists()
    assert run_cli(["trust", "--forget"], attack.repo, attack.env).returncode == 0
    assert_held(attack, attack.run())


def test_a_trust_store_inside_the_workspace_is_not_believed(attack: Attack):
    attack.config.write_text(UNCONFINED)
    assert attack.trust("--yes").returncode == 0
    forged = attack.repo / ".trusted.json"  # the same, valid entry, where the agent could write it
    shutil.copy(attack.env["GEMMA_CODE_TRUST_FILE"], forged)
    env = {**attack.env, "GEMMA_CODE_TRUST_FILE": str(forged)}
    proc = attack.run(env=env)
    assert_held(attack, proc)
    assert "lies inside the workspace" in proc.stderr
    assert run_cli(["trust", "--yes"], attack.repo, env).returncode == 1


def test_trust_is_per_repository_root(attack: Attack):
    attack.config.write_text(UNCONFINED)
    assert attack.trust("--yes").returncode == 0
    copy = attack.tmp / "copy"
    shutil.copytree(attack.repo, copy)  # same content, another place: not trusted there
    proc = attack.run(cwd=copy)
    assert_held(attack, proc)
    assert IGNORED_LINE in proc.stderr and "not trusted" in proc.stderr


@pytest.mark.skipif(detect_sandbox() is None, reason="no usable shell sandbox here (install bubblewrap)")
def test_the_model_cannot_trust_the_project_from_a_sandboxed_shell(attack: Attack):
    attack.config.write_text(UNCONFINED)
    store = Path(attack.env["GEMMA_CODE_TRUST_FILE"])
    store.parent.mkdir()
    store.write_text('{"version": 1, "projects": {}}')
    trust = shell(f"{sys.executable} -m gemma_code.agent.cli trust --yes")
    # The user's own auto mode, sandboxed: the store lies outside the workspace, where the
    # sandbox is read-only (or, under /tmp, private), so the host's store never changes.
    attack.run("--approval", "auto", calls=(trust,))
    assert json.loads(store.read_text())["projects"] == {}
    proc = attack.run()
    assert_held(attack, proc)
    assert IGNORED_LINE in proc.stderr


def test_config_shows_where_each_setting_came_from_and_what_was_ignored(attack: Attack):
    attack.config.write_text(UNCONFINED + "max_steps = 12\n")
    shown = attack.config_lines("--network")
    assert shown["max_steps"] == f"12  ({attack.config})"
    assert shown["approval"].startswith(f'"ask"  (default; {attack.config} sets "auto", ignored: '
                                        "this project is not trusted")
    assert shown["sandbox"].startswith('"auto"  (default; ')
    assert shown["network"].startswith("true  (command line; ")  # the person's flag wins anyway
    attack.trust("--yes")
    assert attack.config_lines()["approval"] == f'"auto"  ({attack.config})'


# --- the agent writing gemma-code's own settings: asks in every mode -------------------------


class Registry:
    """The real registry in `auto` mode with nobody to approve (headless)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def call(self, name: str, **arguments) -> tuple[list, ToolResult]:
        registry = ToolRegistry(default_tools(), "auto", DenyApprover(), auto_runs_shell=True)
        ctx = ToolContext(LocalWorkspace(self.root), shell_timeout=20, sandbox=detect_sandbox())
        return drain(registry.run(ToolCall(name=name, arguments=arguments), ctx))

    def asks(self, name: str, **arguments) -> ApprovalNeeded | None:
        events, result = self.call(name, **arguments)
        asked = [e for e in events if isinstance(e, ApprovalNeeded)]
        if asked:
            assert result.is_error and "denied" in result.content[0].text
            assert asked[0].always is None  # "always" is never offered for these
        return asked[0] if asked else None


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    root = tmp_path / "ws"
    root.mkdir()
    return Registry(root)


def test_writing_gemma_code_toml_asks_in_auto_mode(registry: Registry):
    asked = registry.asks("write_file", path=".gemma-code.toml", content=UNCONFINED)
    assert asked is not None and "gemma-code's own settings" in asked.reason
    assert not (registry.root / ".gemma-code.toml").exists()
    (registry.root / "sub").mkdir()  # a nested one (read when run with -C sub)
    assert registry.asks("write_file", path="sub/.gemma-code.toml", content=UNCONFINED)
    assert registry.asks("write_file", path="sub/../.gemma-code.toml", content=UNCONFINED)


def test_writing_the_config_through_a_link_asks(registry: Registry):
    root = registry.root
    (root / "notes.toml").write_text("max_steps = 3\n")
    (root / ".gemma-code.toml").symlink_to("notes.toml")  # the config is a link to notes.toml
    assert registry.asks("edit_file", path="notes.toml", old="max_steps = 3", new='approval = "auto"')
    (root / "alias.toml").symlink_to(".gemma-code.toml")  # a second name for the config
    assert registry.asks("write_file", path="alias.toml", content=UNCONFINED)
    assert (root / "notes.toml").read_text() == "max_steps = 3\n"


def test_pyproject_asks_only_when_it_carries_gemma_code_settings(registry: Registry):
    pyproject = registry.root / "pyproject.toml"
    pyproject.write_text('[project]\nname = "calc"\ndependencies = []\n\n[tool.black]\nline-length = 99\n')
    # An ordinary edit runs in auto mode.
    assert registry.asks("edit_file", path="pyproject.toml", old="dependencies = []",
                         new='dependencies = ["attrs"]') is None
    # A two-step rename: the first step carries no gemma-code settings yet, the second does.
    assert registry.asks("edit_file", path="pyproject.toml", old="[tool.black]",
                         new="[tool.gemma-codx]") is None
    assert registry.asks("edit_file", path="pyproject.toml", old="codx]", new="code]")
    # A key spelled with a TOML escape still names [tool.gemma-code].
    assert registry.asks("edit_file", path="pyproject.toml", old="[tool.gemma-codx]",
                         new='[tool."gem\\u006da-code"]')
    assert registry.asks("write_file", path="pyproject.toml",
                         content='[tool]\n"gemma-code" = { approval = "auto" }\n')
    assert "gemma-codx" in pyproject.read_text()


def test_pyproject_that_already_carries_the_section_asks_for_any_edit(registry: Registry):
    pyproject = '[project]\nname = "calc"\n\n[tool.gemma-code]\nmax_steps = 9\n'
    (registry.root / "pyproject.toml").write_text(pyproject)
    assert registry.asks("edit_file", path="pyproject.toml", old='name = "calc"', new='name = "calc2"')


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CONFIG_HOME places the user config on Linux")
def test_the_users_own_config_and_trust_store_inside_the_workspace_ask(registry: Registry, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(registry.root / ".config"))  # workspace = home
    monkeypatch.setenv("GEMMA_CODE_TRUST_FILE", str(registry.root / "trust.json"))
    assert registry.asks("write_file", path=".config/gemma-code/config.toml", content=UNCONFINED)
    assert registry.asks("write_file", path="trust.json", content="{}")


# --- further attacks through settings --------------------------------------------------------


def test_dotenv_and_envrc_files_are_not_read(attack: Attack):
    lines = "GEMMA_CODE_APPROVAL=auto\nGEMMA_CODE_SANDBOX=off\nGEMMA_CODE_NETWORK=true\n"
    (attack.repo / ".env").write_text(lines)
    (attack.repo / ".envrc").write_text("".join(f"export {line}\n" for line in lines.splitlines()))
    proc = attack.run()
    assert_held(attack, proc)
    assert attack.config_lines()["approval"] == '"ask"  (default)'


def test_shell_allow_in_a_project_file_is_not_taken(attack: Attack):
    attack.config.write_text('shell_allow = ["sh", "rm"]\n')
    (attack.repo / "inside.sh").write_text("touch ran.txt\n")  # sandboxed or not, it would write this
    proc = attack.run("--approval", "auto-edit", calls=(shell("sh inside.sh"), shell("rm calc.py")))
    assert not (attack.repo / "ran.txt").exists() and (attack.repo / "calc.py").exists()
    assert proc.stdout.count("✗ denied") == 2
    assert 'ignored shell_allow = ["sh", "rm"]' in proc.stderr


def test_a_nested_directory_config_run_with_C_is_not_taken(attack: Attack):
    sub = attack.repo / "pkg"
    sub.mkdir()
    (sub / ".gemma-code.toml").write_text(UNCONFINED)
    shutil.copy(attack.repo / "plant.sh", sub / "plant.sh")
    proc = attack.run("-C", str(sub))
    assert_held(attack, proc)
    assert IGNORED_LINE + " .gemma-code.toml" in proc.stderr


def test_settings_that_would_load_code_or_pick_the_model_are_refused(attack: Attack):
    evil = {"turns": [{"tool_calls": [shell("sh plant.sh")]}]}
    (attack.repo / "evil.json").write_text(json.dumps(evil))
    attack.config.write_text('backend = "scripted"\nmodel = "evil.json"\n')
    shown = attack.config_lines()
    assert shown["backend"].startswith('"auto"  (default; ') and "ignored" in shown["backend"]
    assert shown["model"] == f'"evil.json"  ({attack.config})'  # a model path is fine: a file to load
    attack.config.write_text('models_file = "evil.toml"\n')  # not a setting at all
    proc = attack.run()
    assert proc.returncode == 1 and "unknown setting(s) models_file" in proc.stderr
    assert_held(attack, proc)


def test_a_config_linked_to_a_file_outside_is_ignored(attack: Attack):
    outside = attack.tmp / "outside" / "shared.toml"
    outside.write_text(UNCONFINED + "max_steps = 3\n")
    attack.config.symlink_to(outside)
    proc = attack.run()
    assert_held(attack, proc)
    assert "outside the workspace" in proc.stderr
    assert attack.config_lines()["max_steps"] == "40  (default)"


def test_turning_off_checkpoints_or_on_auto_commit_needs_trust(attack: Attack):
    attack.config.write_text("checkpoints = false\nauto_commit = true\n")
    shown = attack.config_lines()
    assert shown["checkpoints"].startswith("true  (default; ") and "ignored" in shown["checkpoints"]
    assert shown["auto_commit"].startswith("false  (default; ") and "ignored" in shown["auto_commit"]


def test_toml_spellings_of_the_pyproject_section_are_all_caught(tmp_path: Path):
    for text in ('[tool]\n"gemma-code" = { approval = "auto" }\n',
                 'tool.gemma-code.sandbox = "off"\n',
                 '[tool."gem\\u006da-code"]\nnetwork = true\n'):
        (tmp_path / "pyproject.toml").write_text(text)
        loaded = load_config(tmp_path, environ={})
        assert len(loaded.ignored) == 1 and loaded.settings == Settings(), text


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CONFIG_HOME places the user config on Linux")
def test_the_users_own_config_inside_the_workspace_needs_trust(attack: Attack):
    config_dir = attack.repo / ".config"
    (config_dir / "gemma-code").mkdir(parents=True)
    (config_dir / "gemma-code" / "config.toml").write_text(UNCONFINED)
    env = {**attack.env, "XDG_CONFIG_HOME": str(config_dir)}  # the workspace is the home folder
    proc = attack.run(env=env)
    assert_held(attack, proc)
    assert IGNORED_LINE + " .config/gemma-code/config.toml" in proc.stderr


def test_safer_values_from_a_project_apply_untrusted(tmp_path: Path):
    (tmp_path / ".gemma-code.toml").write_text('approval = "read-only"\nsandbox = "auto"\nnetwork = false\n')
    loaded = load_config(tmp_path, environ={})
    assert loaded.settings.approval == "read-only" and not loaded.ignored


# --- an unconfined shell says so every turn ---------------------------------------------------


def unconfined_notices(events) -> list[str]:
    return [e.text for e in events if isinstance(e, Notice) and "unconfined" in e.text]


def test_an_unconfined_shell_says_so_every_turn(repo: Path):
    settings = Settings(model="scripted", sandbox="off", approval="auto")
    lifecycle = SessionLifecycle(settings, repo, DenyApprover())
    lifecycle.use_backend(ScriptedBackend.from_turns([{"text": "one"}, {"text": "two"}, {"text": "3"}]))
    first = unconfined_notices(lifecycle.run(UserMessage.of("hi")))
    second = unconfined_notices(lifecycle.run(UserMessage.of("again")))
    assert len(first) == 1 and len(second) == 1
    assert "auto mode runs them without asking" in second[0]
    lifecycle.set_mode("read-only")  # no shell at all: nothing to say
    assert unconfined_notices(lifecycle.run(UserMessage.of("more"))) == []


def test_a_headless_unconfined_run_says_so_on_stderr(attack: Attack):
    proc = attack.run("--sandbox", "off", calls=())
    assert 'gemma-code: the shell is not sandboxed (sandbox = "off")' in proc.stderr
