"""The repo map and the files a task points at: real files in tmp_path, the scripted model."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemma_code.agent.config import Settings
from gemma_code.agent.context.attach import attach
from gemma_code.agent.context.pointed import frames, identifiers, targets
from gemma_code.agent.context.prepare import load_index, prepare, repo_map
from gemma_code.agent.context.repomap import Focus, rank
from gemma_code.agent.context.tags import MAX_FILE_BYTES, TagCache, parse_tags, workspace_tags
from gemma_code.agent.events import ContextAttached
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.session import Session
from gemma_code.agent.workspace import walk_files
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import run_cli


def count(text: str) -> int:
    return len(text) // 4 + 1


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


PROJECT = {
    "app/users.py": "from app.emails import normalize_email\n\n\nclass User:\n"
                    "    def __init__(self, email):\n        self.email = normalize_email(email)\n",
    "app/emails.py": "def normalize_email(address):\n    return address.strip().lower()\n\n\n"
                     "def _private_helper():\n    return 1\n",
    "app/report.py": "from app.users import User\n\n\ndef build_report(rows):\n"
                     "    return [User(r) for r in rows]\n",
    "web/client.ts": "export interface Account { id: number }\n"
                     "export function loadAccount(id: number): Account { return { id } }\n",
    "web/ui.js": "import { loadAccount } from './client';\nconst show = (id) => loadAccount(id);\n",
    "scripts/deploy.sh": "deploy_all() {\n  echo go\n}\ndeploy_all\n",
    "README.md": "# project\n",
}


def test_tags_per_language_and_syntax_errors():
    py = parse_tags(b"def ok(a):\n    return helper(a)\n\ndef broken(:\n    pass\n", "python")
    assert [d.name for d in py.defs] == ["ok", "broken"] and py.refs.get("helper") == 1
    assert py.defs[0].signature == "def ok(a):" and py.defs[0].end == 2
    ts = parse_tags(PROJECT["web/client.ts"].encode(), "typescript")
    assert {d.name for d in ts.defs} == {"Account", "loadAccount"}
    sh = parse_tags(PROJECT["scripts/deploy.sh"].encode(), "bash")
    assert [d.name for d in sh.defs] == ["deploy_all"]
    bad = parse_tags(b"def f(x):\n    return '\xff\xfe'\n", "python")  # invalid UTF-8
    assert [d.name for d in bad.defs] == ["f"]


def test_map_ranks_toward_the_prompt_and_fits_the_budget(tmp_path: Path):
    root = write(tmp_path, PROJECT)
    index = load_index(root)
    assert not index["README.md"].parsed
    shown = repo_map(index, "emails are stored with spaces; fix normalize_email", 400, count)
    lines = shown.splitlines()
    assert lines[1] == "app/emails.py" and "  1: def normalize_email(address):" in lines
    assert "README.md" in lines  # listed by path only
    small = repo_map(index, "", 45, count)
    assert 0 < count(small) <= 45 and len(small.splitlines()) < len(lines)
    assert repo_map(index, "anything", 0, count) == ""


def test_personalisation_follows_files_in_play(tmp_path: Path):
    root = write(tmp_path, PROJECT)
    index = load_index(root)
    entries = rank(index, Focus.of("", ["web/ui.js"]))
    assert entries[0].path == "web/client.ts"  # what the file in play uses


def test_cache_is_reused_and_refreshed_on_change(tmp_path: Path):
    root = write(tmp_path / "ws", PROJECT)
    cache_dir = tmp_path / "cache"
    files = walk_files(root, root)
    first = workspace_tags(root, files, TagCache(root, cache_dir))
    cache_file = next(cache_dir.iterdir())
    stamp = cache_file.stat().st_mtime_ns
    assert workspace_tags(root, files, TagCache(root, cache_dir)) == first
    assert cache_file.stat().st_mtime_ns == stamp  # nothing changed: not rewritten
    (root / "app/emails.py").write_text("def renamed_thing():\n    return 0\n")
    again = workspace_tags(root, files, TagCache(root, cache_dir))
    assert [d.name for d in again["app/emails.py"].defs] == ["renamed_thing"]
    cache_file.write_text("{not json")
    assert workspace_tags(root, files, TagCache(root, cache_dir))["app/users.py"].defs


def test_traceback_frames_of_each_kind_inside_the_workspace_only(tmp_path: Path):
    root = write(tmp_path, {"calc.py": "x\n", "lib/parse.js": "y\n", "run.sh": "z\n",
                            "tests/test_calc.py": "t\n"})
    text = (
        'Traceback (most recent call last):\n'
        '  File "/usr/lib/python3.12/runpy.py", line 198, in _run_module_as_main\n'
        f'  File "{root}/calc.py", line 1, in add\n'
        "tests/test_calc.py:1: AssertionError\n"
        "    at parse (lib/parse.js:1:5)\n"
        "    at Object.<anonymous> (/usr/lib/node/x.js:3:1)\n"
        "run.sh: line 1: foo: command not found\n"
        '  File "../outside.py", line 3, in f\n'
    )
    (tmp_path.parent / "outside.py").write_text("secret = 1\n")
    assert frames(text, root.resolve()) == [
        ("calc.py", 1), ("tests/test_calc.py", 1), ("lib/parse.js", 1), ("run.sh", 1)]


def big_module(functions: int) -> str:
    return "".join(f"def func_{i}(x):\n    y = x + {i}\n    return y\n\n\n" for i in range(functions))


def test_attached_lines_whole_or_enclosing_definition(tmp_path: Path):
    root = write(tmp_path, {"small.py": "def tiny():\n    return 1\n", "big.py": big_module(100)})
    index = load_index(root)
    text = ('File "big.py", line 252, in func_50\nsee small.py')
    found = attach(targets(text, root, index), root, index, 2000, count)
    assert [(a.path, a.lines, a.reason) for a in found] == [
        ("big.py", "249-255", "traceback frame"), ("small.py", "whole", "named in the prompt")]
    assert "   252\t    y = x + 50" in found[0].text  # numbered like read_file


def test_identifiers_with_one_definition_are_attached(tmp_path: Path):
    root = write(tmp_path, PROJECT)
    index = load_index(root)
    assert "normalize_email" in identifiers("why does normalize_email() fail?")
    found = targets("why does normalize_email() fail? and `User`", root, index)
    assert {(t.path, t.reason) for t in found} == {
        ("app/emails.py", "definition of normalize_email"), ("app/users.py", "definition of User")}


def test_plain_words_naming_one_definition_are_attached_after_code(tmp_path: Path):
    root = write(tmp_path, PROJECT)
    index = load_index(root)
    found = targets("the User records keep bad emails: fix normalize_email()", root, index)
    assert [(t.path, t.reason) for t in found] == [
        ("app/emails.py", "definition of normalize_email"), ("app/users.py", "definition of User")]
    assert targets("nothing here names code", root, index) == []


def test_what_a_pointed_definition_uses_elsewhere_is_attached_after_it(tmp_path: Path):
    root = write(tmp_path, PROJECT)
    index = load_index(root)
    # The symptom names the class; the bug may be in the helper it calls, in another file.
    found = targets("a User keeps the spaces around its email", root, index)
    assert [(t.path, t.reason) for t in found] == [
        ("app/users.py", "definition of User"),
        ("app/emails.py", "normalize_email, used by User")]
    assert found[1].start == 1 and found[1].end == 2
    # Names defined in the same file, or more than once, are not followed.
    write(root, {"app/more.py": "def normalize_email(a):\n    return a\n"})
    found = targets("a User keeps the spaces around its email", root, load_index(root))
    assert [t.reason for t in found] == ["definition of User"]


def test_a_message_pointing_at_nothing_gets_a_small_repositorys_source(tmp_path: Path):
    root = write(tmp_path, {**PROJECT, "README.md": "# app\n", "data.csv": "a,b\n1,2\n"})
    prepared = prepare(root, "signing up twice with the same address should fail",
                       map_tokens=0, files_tokens=2000, count_tokens=count)
    files = {f.path: (f.lines, f.reason) for f in prepared.event.files}
    source = [path for path in PROJECT if path != "README.md"]
    assert files == {path: ("whole", "source of a small repository") for path in source}
    assert set(prepared.digests) == {root / path for path in source}  # they count as read
    greeting = prepare(root, "hello there", map_tokens=0, files_tokens=2000, count_tokens=count)
    assert greeting.event is None  # not a task
    data = prepare(root, "the totals for data.csv come out wrong in the report", map_tokens=0,
                   files_tokens=2000, count_tokens=count)
    reasons = {f.path: f.reason for f in data.event.files}
    assert reasons["data.csv"] == "named in the prompt"  # a data file named: the code too
    assert reasons["app/report.py"] == "source of a small repository"
    later = prepare(root, "signing up twice with the same address should fail", map_tokens=0,
                    files_tokens=2000, count_tokens=count, first=False)
    assert later.event is None  # a later message gets the map's files no second time


def test_in_a_larger_repository_only_files_the_words_match_are_attached(tmp_path: Path):
    files = {f"pkg/part_{i}.py": f"def helper_{i}(x):\n    return x + {i}\n" for i in range(20)}
    files["pkg/pager.py"] = "def pages(total, per_page):\n    return total // per_page\n"
    root = write(tmp_path, files)
    prepared = prepare(root, "the pager shows one page too few", map_tokens=0,
                       files_tokens=2000, count_tokens=count)
    assert [(f.path, f.reason) for f in prepared.event.files] == [
        ("pkg/pager.py", "ranked first for this message")]
    nothing = prepare(root, "it is slow sometimes", map_tokens=0, files_tokens=2000,
                      count_tokens=count)
    assert nothing.event is None


def test_a_prompt_naming_200_files_stays_within_budget(tmp_path: Path):
    root = write(tmp_path, {f"pkg/mod_{i}.py": big_module(3) for i in range(200)})
    prompt = " ".join(f"pkg/mod_{i}.py" for i in range(200))
    prepared = prepare(root, prompt, map_tokens=300, files_tokens=1000, count_tokens=count)
    assert count(prepared.blocks[1]) <= 1000 + 60 and count(prepared.blocks[0]) <= 300
    assert 0 < len(prepared.event.files) < 200


def test_bad_input_never_stops_the_map(tmp_path: Path):
    root = tmp_path / "ws"
    write(root, {"ok.py": "def fine():\n    pass\n", "data.bin": b"\x00\x01\x02" * 100,
                 "img.png": b"\x89PNG\r\n\x1a\n\x00", "nul.py": b"def x():\x00\n",
                 "latin.py": "def caf\xe9():\n    pass\n".encode("latin-1"),
                 "broken.py": "def (:\n  ][\n"})
    with open(root / "bundle.min.js", "wb") as f:  # 50 MB minified: skipped by its size
        f.write(b"var a=1;" * (50 * 1024 * 1024 // 8))
    os.symlink(root / "loop_a", root / "loop_b")
    os.symlink(root / "loop_b", root / "loop_a")
    os.symlink(root, root / "self_dir")
    index = load_index(root)
    assert "data.bin" not in index and "img.png" not in index and "nul.py" not in index
    assert not index["bundle.min.js"].parsed and (root / "bundle.min.js").stat().st_size > MAX_FILE_BYTES
    assert [d.name for d in index["ok.py"].defs] == ["fine"]
    shown = repo_map(index, "bundle.min.js loop_a data.bin", 500, count)
    assert "ok.py" in shown and "bundle.min.js" in shown
    prepared = prepare(root, "see bundle.min.js and data.bin and loop_a", map_tokens=0,
                       files_tokens=1000, count_tokens=count)
    attached = {f.path for f in prepared.event.files}  # none of the named ones is readable,
    assert attached <= {"ok.py", "latin.py", "broken.py"}  # so the small repo's source instead


def test_no_supported_language_gives_a_map_of_paths(tmp_path: Path):
    root = write(tmp_path, {"notes.txt": "hi\n", "conf/app.yaml": "a: 1\n", "Makefile": "all:\n"})
    shown = repo_map(load_index(root), "", 200, count)
    assert shown.splitlines()[1:] == ["Makefile", "conf/app.yaml", "notes.txt"]


def test_five_thousand_files(tmp_path: Path):
    root = tmp_path / "many"
    for i in range(5000):
        write(root, {f"d{i % 50}/m{i}.py": f"def f{i}():\n    return g{i - 1}()\n"})
    index = load_index(root)
    assert len(index) == 5000
    shown = repo_map(index, "fix f42", 1024, count)
    assert count(shown) <= 1024 and "def f42():" in shown
    import threading

    cancelled = threading.Event()
    cancelled.set()
    assert load_index(root, cancel=cancelled) == {}  # Esc while the map is made: no wait


def _session(root: Path, turns: list[dict], **settings) -> tuple[Session, ScriptedBackend]:
    backend = ScriptedBackend.from_turns(turns)
    session = Session(Settings(model="scripted", checkpoints=False, **settings), backend, root,
                      DenyApprover())
    return session, backend


def test_session_puts_context_in_the_first_user_message_and_counts_files_read(repo: Path):
    write(repo, {"big.py": big_module(100)})
    session, backend = _session(repo, [{"text": "a"}, {"text": "b"}])
    prompt = 'Traceback:\n  File "big.py", line 252, in func_50\nalso calc.py'
    events = list(session.run(UserMessage.of(prompt)))
    context = next(e for e in events if isinstance(e, ContextAttached))
    assert context.line().startswith("context: repo map (")
    assert "big.py:249-255 (traceback frame)" in context.line()
    assert "calc.py (whole, named in the prompt)" in context.line()
    first = backend.seen[0][1]
    assert first.typed == prompt and "Repository map" in first.content[0].text
    digest = hashlib.sha256((repo / "calc.py").read_bytes()).hexdigest()
    assert session.agent.ctx.seen[(repo / "calc.py").resolve()] == digest
    system = backend.seen[0][0]
    list(session.run(UserMessage.of("thanks")))
    second = backend.seen[1]
    assert second[0] == system and second[: len(backend.seen[0])] == backend.seen[0]
    assert all("Repository map" not in p.text for p in second[-1].content)


def test_settings_turn_it_off(repo: Path):
    session, backend = _session(repo, [{"text": "a"}], repo_map_tokens=0, context_files_tokens=0)
    events = list(session.run(UserMessage.of("fix calc.py")))
    assert not any(isinstance(e, ContextAttached) for e in events)
    assert len(backend.seen[0][1].content) == 1


def test_cli_map_and_run_show_the_context(repo: Path, tmp_path: Path, isolated_env):
    proc = run_cli(["map", "--tokens", "200", "add"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert "calc.py\n  1: def add(a, b):" in proc.stdout
    off = run_cli(["map", "--tokens", "0"], repo, isolated_env)
    assert off.returncode == 0 and "budget is 0" in off.stderr
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "done"}]))
    run = run_cli(["run", "--backend", "scripted", "--model", str(script),
                   'File "calc.py", line 2, in add\nFile "/etc/passwd", line 1'], repo, isolated_env)
    assert run.returncode == 0, run.stderr
    assert "gemma-code: context: repo map (" in run.stderr
    assert "calc.py (whole, traceback frame)" in run.stderr and "passwd" not in run.stderr
    as_json = run_cli(["run", "--json", "--backend", "scripted", "--model", str(script),
                       "look at test_calc.py"], repo, isolated_env)
    first = json.loads(as_json.stdout.splitlines()[1])  # after run_started
    assert first["type"] == "context"
    assert {"path": "test_calc.py", "lines": "whole", "reason": "named in the prompt"} in first["files"]


def test_mentions_and_text_read_from_an_image_count(repo: Path):
    from gemma_code.agent.attachments import expand_mentions
    from gemma_code.agent.messages import TextPart

    write(repo, {"big.py": big_module(100)})
    session, backend = _session(repo, [{"text": "a"}])
    ocr = TextPart(text='(Text read from screenshot.png:)\n  File "big.py", line 7, in func_1')
    typed = expand_mentions("fix this, see @test_calc.py", repo).text
    events = list(session.run(UserMessage.of(typed, (ocr,))))
    line = next(e for e in events if isinstance(e, ContextAttached)).line()
    assert "test_calc.py (whole, @mention)" in line and "big.py:4-10 (traceback frame)" in line
    assert (repo / "test_calc.py").resolve() in session.agent.ctx.seen


def test_agents_md_from_the_root_down_to_the_files_in_play_once(repo: Path):
    write(repo, {"AGENTS.md": "Use tabs.\n", "pkg/AGENTS.md": "Never touch pkg/gen.py.\n",
                 "pkg/mod.py": "def thing():\n    pass\n", "other/AGENTS.md": "unrelated\n"})
    session, backend = _session(repo, [{"text": "a"}, {"text": "b"}])
    events = list(session.run(UserMessage.of("hello")))
    line = next(e for e in events if isinstance(e, ContextAttached)).line()
    assert "AGENTS.md (whole, project instructions)" in line and "pkg/AGENTS.md" not in line
    assert "Use tabs." in backend.seen[0][1].text
    events = list(session.run(UserMessage.of("change pkg/mod.py")))
    line = next(e for e in events if isinstance(e, ContextAttached)).line()
    assert "pkg/AGENTS.md (whole, project instructions)" in line
    assert "context: AGENTS.md" not in line and "other/AGENTS.md" not in line
    assert "Never touch pkg/gen.py." in backend.seen[1][-1].text


def test_a_one_megabyte_agents_md_is_cut_and_said_so(tmp_path: Path):
    write(tmp_path, {"AGENTS.md": "rule line\n" * 100_000})
    prepared = prepare(tmp_path, "hi", map_tokens=0, files_tokens=0, count_tokens=count)
    assert "cut here: AGENTS.md is longer than 8000 bytes" in prepared.blocks[0]
    assert len(prepared.blocks[0]) < 8_300
    assert "AGENTS.md:1-800 (project instructions, cut at 8000 bytes)" in prepared.event.line()
