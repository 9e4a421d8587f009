"""MCP servers as tools (issue 25): real servers on the SDK's own server API, a stdio one and a
streamable HTTP one, driven end to end by the scripted model through sessions and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.config import ConfigError, Settings, load_config
from gemma_code.agent.events import ApprovalNeeded, Notice, ToolFinished
from gemma_code.agent.lifecycle import SessionLifecycle
from gemma_code.agent.messages import ImagePart, UserMessage
from gemma_code.agent.protocols import AgentProfile, ApprovalDecision, ApprovalRequest
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import marker_pids, run_cli, write_script

pytestmark = pytest.mark.timeout(30)

SERVERS = Path(__file__).parent / "mcp_servers"
STDIO = SERVERS / "stdio_server.py"


def notes_server(root: Path, **extra) -> dict:
    return {"command": sys.executable, "args": [str(STDIO)], "cwd": str(root), "timeout": 5, **extra}


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """The streamable HTTP server, on a free port of 127.0.0.1; ended by its pid."""
    server = subprocess.Popen([sys.executable, str(SERVERS / "http_server.py"), "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.kill()
        server.wait(5)


class Recorder:
    """Approves or denies every request, and keeps them."""

    def __init__(self, approve: bool) -> None:
        self.approve = approve
        self.requests: list[ApprovalRequest] = []

    def decide(self, request: ApprovalRequest) -> ApprovalDecision:
        self.requests.append(request)
        return ApprovalDecision(approved=self.approve, note="" if self.approve else "not today")


def call(tool: str, /, **arguments) -> dict:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


@pytest.fixture
def lifecycles() -> Iterator[list[SessionLifecycle]]:
    made: list[SessionLifecycle] = []
    yield made
    for lifecycle in made:
        lifecycle.close()


@pytest.fixture
def run_turn(tmp_path: Path, lifecycles):
    """One turn of a session whose settings name `servers`; its events and its backend."""

    def run(turns, servers, approver=None, approval="ask", profile=AgentProfile(), vision=False):
        backend = ScriptedBackend.from_turns([*turns, {"text": "done"}], vision=vision)
        backend.profile = profile
        settings = Settings(model="scripted", checkpoints=False, verify="off", approval=approval,
                            mcp_servers=servers)
        lifecycle = SessionLifecycle(settings, tmp_path, approver or DenyApprover())
        lifecycles.append(lifecycle)
        lifecycle.use_backend(backend)
        return list(lifecycle.run(UserMessage.of("go"))), backend, lifecycle

    return run


def finished(events) -> list[ToolFinished]:
    return [e for e in events if isinstance(e, ToolFinished)]


def notices(events) -> str:
    return "\n".join(e.text for e in events if isinstance(e, Notice))


def test_a_call_is_asked_for_and_reaches_the_server(tmp_path, run_turn):
    approver = Recorder(approve=True)
    events, backend, lifecycle = run_turn([call("notes__write_note", name="todo", text="buy milk")],
                                          {"notes": notes_server(tmp_path)}, approver)
    asked, = [e for e in events if isinstance(e, ApprovalNeeded)]
    assert asked.call.name == "notes__write_note"  # the server and its tool
    assert asked.call.arguments == {"name": "todo", "text": "buy milk"}
    assert approver.requests[0].tool == "notes__write_note"
    assert asked.reason == ("notes__write_note wants to call write_note on the MCP server notes, "
                            "which does not mark it read-only (approval mode: ask)")
    done, = finished(events)
    assert not done.is_error and done.text == "wrote todo.txt"
    assert (tmp_path / "todo.txt").read_text() == "buy milk"
    assert "MCP server notes started: 9 tools" in notices(events)
    assert "'word.count' is left out: the name notes__word_count is taken" in notices(events)
    offered = backend.offered[0]
    assert "notes__read_note" in offered and "read_file" in offered
    specs = {s.name: s for s in lifecycle.session.agent.tools.specs()}  # the server's schema
    write = specs["notes__write_note"]
    assert write.parameters["required"] == ["name", "text"]
    assert set(write.parameters["properties"]) == {"name", "text"}
    assert write.description.startswith("Write a note")


def test_a_denied_call_never_reaches_the_server(tmp_path, run_turn):
    approver = Recorder(approve=False)
    turns = [call("notes__write_note", name="todo"), call("notes__write_note", name="todo", text="x")]
    events, _, _ = run_turn(turns, {"notes": notes_server(tmp_path)}, approver)
    refused, denied = finished(events)
    assert refused.is_error and "'text' is a required property" in refused.text  # the schema
    assert denied.is_error and "denied" in denied.text and "not today" in denied.text
    assert len(approver.requests) == 1  # the call the schema refused was never asked for
    assert not (tmp_path / "todo.txt").exists()


def test_read_only_tools_run_unasked_and_read_only_mode_refuses_the_others(tmp_path, run_turn):
    (tmp_path / "plan.txt").write_text("ship it")
    turns = [call("notes__read_note", name="plan"), call("notes__write_note", name="a", text="b")]
    events, _, _ = run_turn(turns, {"notes": notes_server(tmp_path)}, approval="read-only")
    assert not [e for e in events if isinstance(e, ApprovalNeeded)]
    read, write = finished(events)
    assert not read.is_error and read.text == "ship it"
    assert write.is_error and "read-only" in write.text
    assert not (tmp_path / "a.txt").exists()


def test_a_server_with_approval_auto_is_not_asked_for(tmp_path, run_turn):
    events, _, _ = run_turn([call("notes__write_note", name="auto", text="yes")],
                            {"notes": notes_server(tmp_path, approval="auto")})
    assert not [e for e in events if isinstance(e, ApprovalNeeded)]
    assert not finished(events)[0].is_error
    assert (tmp_path / "auto.txt").read_text() == "yes"


def test_a_hanging_call_times_out_and_the_server_goes_on(tmp_path, run_turn):
    (tmp_path / "plan.txt").write_text("ship it")
    turns = [call("notes__nap", seconds=20), call("notes__read_note", name="plan")]
    started = time.monotonic()
    events, _, _ = run_turn(turns, {"notes": notes_server(tmp_path, timeout=2)})
    nap, read = finished(events)
    assert nap.is_error and "did not answer nap within 2 seconds" in nap.text
    assert nap.error_kind == "timed_out"
    assert read.text == "ship it"
    assert time.monotonic() - started < 12


def test_a_crashed_server_fails_its_calls_and_the_other_server_still_works(tmp_path, run_turn,
                                                                          http_url):
    turns = [call("notes__crash"), call("notes__read_note", name="plan"), call("calc__add", a=2, b=3)]
    turns.append(call("calc__token"))
    servers = {"notes": notes_server(tmp_path, approval="auto"),
               "calc": {"url": http_url, "headers": {"X-Token": "sesame"}}}
    events, _, lifecycle = run_turn(turns, servers)
    crash, after, add, token = finished(events)
    assert token.text == "sesame"  # the configured headers reach the HTTP server
    assert crash.is_error and "closed the connection and may have crashed" in crash.text
    assert after.is_error and "MCP server notes is not running: it closed" in after.text
    assert not add.is_error and add.text == "5"
    log = (tmp_path / "cache" / "mcp" / "notes.log").read_text()
    assert "crashing on purpose" in log  # its stderr went to its log, not the screen
    states = {s.name: s.state for s in lifecycle.mcp.states()}
    assert states["calc"] == "running" and states["notes"].startswith("not running")


def test_images_reach_a_vision_model_and_bad_or_long_output_is_handled(tmp_path, run_turn):
    turns = [call("notes__picture"), call("notes__flood"), call("notes__noise")]
    events, backend, _ = run_turn(turns, {"notes": notes_server(tmp_path)}, vision=True)
    picture, flood, noise = finished(events)
    assert noise.text == "still here"  # a line that is not JSON-RPC on its stdout is passed over
    assert any(isinstance(p, ImagePart) for p in picture.content)
    assert "[output cut: the first 20000 of 50000 characters are shown]" in flood.text
    assert len(flood.text) < 20_200


def test_servers_that_do_not_start_or_do_not_answer_are_notices(tmp_path, run_turn, lifecycles):
    (tmp_path / "plan.txt").write_text("ship it")
    mute = ["-c", "import time; time.sleep(30)", str(tmp_path / "mute-server")]
    servers = {"gone": {"command": str(tmp_path / "no-such-server")},
               "mute": {"command": sys.executable, "args": mute, "timeout": 1},
               "notes": {"command": sys.executable, "args": [str(STDIO)]}}  # runs in the workspace
    events, _, _ = run_turn([call("notes__read_note", name="plan")], servers)
    said = notices(events)
    assert "MCP server gone did not start: No such file or directory" in said
    assert "MCP server mute did not start: no answer within 1 seconds" in said
    assert finished(events)[0].text == "ship it"
    lifecycles.pop().close()
    assert not marker_pids(str(tmp_path / "mute-server"))  # stopped, though it never answered


def test_a_profile_without_mcp_hides_the_servers_tools(tmp_path, run_turn):
    _, backend, _ = run_turn([], {"notes": notes_server(tmp_path)}, profile=AgentProfile(mcp=False))
    assert not [name for name in backend.offered[0] if "__" in name]


def test_a_schema_no_call_grammar_can_follow_leaves_its_tool_out():
    from gemma_code.agent.mcp.connection import ServerTool
    from gemma_code.agent.mcp.tools import McpTool, _ungrammatical

    remote = ServerTool("fetch", "", {"type": "object", "properties": {"a": {"$ref": "http://x/s"}}},
                        read_only=True)
    assert "only local $refs" in _ungrammatical(McpTool(None, "web", remote, "web__fetch", "ask"))


def test_server_names_cannot_hold_the_separator(tmp_path):
    with pytest.raises(ConfigError, match="single _"):
        load_config(tmp_path, {"mcp_servers": {"a__b": {"command": "x"}}}, environ={})


def test_an_untrusted_projects_server_is_not_started(repo, isolated_env):
    marker = repo / "started.txt"
    code = f"open({str(marker)!r}, 'w')"
    (repo / ".gemma-code.toml").write_text(
        f"[mcp_servers.evil]\ncommand = {json.dumps(sys.executable)}\nargs = ['-c', {json.dumps(code)}]\n")
    assert load_config(repo, environ={}).settings.mcp_servers == {}
    listed = run_cli(["mcp", "list"], repo, isolated_env, timeout=30)
    assert listed.returncode == 0
    assert "ignored mcp_servers" in listed.stderr and "no MCP servers are configured" in listed.stdout
    assert not marker.exists()
    assert run_cli(["trust", "--yes"], repo, isolated_env, timeout=30).returncode == 0
    trusted = run_cli(["mcp", "list"], repo, isolated_env, timeout=30)
    assert "evil  not running" in trusted.stdout and marker.exists()  # trusted: it was started


def _user_config(env: dict[str, str], text: str) -> None:
    folder = Path(env["XDG_CONFIG_HOME"]) / "gemma-code"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(text)


def test_servers_from_each_config_layer_add_up_and_config_hides_their_secrets(repo, isolated_env):
    _user_config(isolated_env, '[mcp_servers.docs]\nurl = "http://127.0.0.1:9/mcp"\n'
                 'headers = { Authorization = "Bearer user-secret" }\n\n'
                 '[mcp_servers.notes]\ncommand = "old-notes"\n')
    (repo / ".gemma-code.toml").write_text('[mcp_servers.tracker]\ncommand = "tracker-mcp"\n'
                                           'env = { TRACKER_TOKEN = "project-secret" }\n')
    assert run_cli(["trust", "--yes"], repo, isolated_env, timeout=30).returncode == 0
    isolated_env["GEMMA_CODE_MCP_SERVERS"] = json.dumps({"notes": {"command": "new-notes"}})
    shown = run_cli(["config"], repo, isolated_env, timeout=30)
    assert shown.returncode == 0, shown.stderr
    line, = [l for l in shown.stdout.splitlines() if l.startswith("mcp_servers = ")]
    servers = json.loads(line.removeprefix("mcp_servers = ").rsplit("  (", 1)[0])
    assert set(servers) == {"docs", "notes", "tracker"}  # merged, not replaced
    assert servers["notes"]["command"] == "new-notes"  # the same name: the later layer's
    assert servers["docs"]["headers"] == {"Authorization": "<hidden>"}
    assert servers["tracker"]["env"] == {"TRACKER_TOKEN": "<hidden>"}
    assert "secret" not in shown.stdout
    assert "config.toml + " in line and ".gemma-code.toml + environment" in line

    isolated_env["GEMMA_CODE_MCP_SERVERS"] = "{not json"
    bad = run_cli(["config"], repo, isolated_env, timeout=30)
    assert bad.returncode != 0 and "GEMMA_CODE_MCP_SERVERS" in bad.stderr
    assert "JSON object" in bad.stderr


def test_mcp_list_shows_servers_state_and_tools(repo, isolated_env, http_url):
    _user_config(isolated_env, f"[mcp_servers.notes]\ncommand = {json.dumps(sys.executable)}\n"
                 f"args = [{json.dumps(str(STDIO))}]\n\n[mcp_servers.calc]\nurl = \"{http_url}\"\n"
                 "\n[mcp_servers.gone]\ncommand = \"/no/such/server\"\n")
    listed = run_cli(["mcp", "list"], repo, isolated_env, timeout=30)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert "notes  running" in out and "calc  running" in out
    assert "  notes__read_note  (read-only)  Read a note" in out
    assert "  notes__write_note  Write a note" in out and "  calc__add  (read-only)" in out
    assert "gone  not running: No such file or directory" in out


def test_a_headless_run_calls_a_server_and_stops_it(repo, isolated_env, tmp_path):
    _user_config(isolated_env, f"[mcp_servers.notes]\ncommand = {json.dumps(sys.executable)}\n"
                 f"args = [{json.dumps(str(STDIO))}]\ncwd = {json.dumps(str(repo))}\n")
    script = write_script(tmp_path / "script.json", [
        call("notes__write_note", name="headless", text="from the run"), {"text": "done"}])
    ran = run_cli(["run", "--backend", "scripted", "--model", str(script), "--approval",
                   "auto-edit", "write it"], repo, isolated_env, timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert (repo / "headless.txt").read_text() == "from the run"
    assert "MCP server notes started" in ran.stderr
    assert not marker_pids(str(STDIO))  # stopped with the session


@pytest.mark.real_model
@pytest.mark.timeout(900)
def test_the_bundled_model_calls_an_mcp_tool(repo, isolated_env):
    (repo / "groceries.txt").write_text("oat milk, rye bread, three lemons\n")
    _user_config(isolated_env, f"[mcp_servers.notes]\ncommand = {json.dumps(sys.executable)}\n"
                 f"args = [{json.dumps(str(STDIO))}]\ncwd = {json.dumps(str(repo))}\n")
    ran = run_cli(["run", "--model", "qwen2.5-coder-1.5b", "--approval", "auto", "--temperature",
                   "0", "--max-steps", "3", "--max-tokens", "120", "--no-verify", "--json",
                   "What is on my groceries note? Read it with the notes__read_note tool."],
                  repo, isolated_env, timeout=900)
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    read = [e for e in events if e["type"] == "tool_result" and e["name"] == "notes__read_note"]
    assert read and not read[0]["is_error"], ran.stdout[-3000:]
    assert "oat milk" in read[0]["content"][0]["text"]
    assert not marker_pids(str(STDIO))


@pytest.mark.asyncio
async def test_the_tui_starts_the_servers_and_lists_them(repo):
    from gemma_code.agent.tui.app import GemmaCodeApp

    from .tui.conftest import notices as shown, ready, send, until

    settings = Settings(model="scripted-test", verify="off", repo_map_tokens=0,
                        context_files_tokens=0, mcp_servers={"notes": notes_server(repo)})
    backend = ScriptedBackend.from_turns([])
    app = GemmaCodeApp(settings, repo, open_backend=lambda s, notice: backend, theme="textual-dark")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/mcp")
        await until(pilot, lambda: any("notes  running" in text for text in shown(app)))
        listed = next(text for text in shown(app) if "notes  running" in text)
        assert "notes__write_note  Write a note" in listed
    app.shutdown()
    assert not marker_pids(str(STDIO))
