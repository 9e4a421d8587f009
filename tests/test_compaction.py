"""Long sessions: old tool output masked, compaction into a hand-off summary, the compacted
state saved and resumed, and a session file that survives a kill mid-write."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.compaction import BLOCK_HEAD, SUMMARY_REQUEST, is_masked, restarted
from gemma_code.agent.config import Settings
from gemma_code.agent.events import Compacted, TurnDone, Usage, event_json_schema
from gemma_code.agent.messages import (
    AssistantMessage, SystemMessage, ToolMessage, UserMessage,
)
from gemma_code.agent.session import Session
from gemma_code.agent.sessions import SessionStore
from gemma_code.backends.scripted import ScriptedBackend

from evals.bench import long_session

from .conftest import run_cli, write_script

FILES = long_session.FILES
realistic_repo, tool_turns = long_session.realistic_repo, long_session.tool_turns


def cli_run(script: Path, repo: Path, env: dict, *extra: str):
    return run_cli(["run", "--backend", "scripted", "--model", str(script), "--approval", "auto",
                    "--no-verify", "--json", *extra, "go through every module"], repo, env)


def test_a_100_step_scripted_session_finishes_without_context_full(repo, tmp_path, isolated_env):
    names = realistic_repo(repo)
    script = write_script(tmp_path / "s.json", [*tool_turns(names, 104), {"text": "All read."}])
    args = ("--context-size", "8192", "--max-steps", "100")
    proc = cli_run(script, repo, isolated_env, *args)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    finished = events[-1]
    assert finished["type"] == "run_finished" and finished["reason"] in ("max_steps", "answered")
    assert finished["steps"] == 100
    assert not [e for e in events if e.get("finish_reason") == "context_full"]
    shrunk = [e for e in events if e["type"] == "compacted"]
    assert shrunk and shrunk[0]["kind"] == "masked"
    schema = event_json_schema()
    for e in shrunk:
        jsonschema.validate(e, schema)
        assert e["tokens_after"] < e["tokens_before"] and e["tokens_before"] > 0.75 * 8192 * 0.9
    assert len(shrunk) < 30  # rarely: each rewrite costs the prompt cache

    # The same session with compaction off runs out of context.
    isolated_env["GEMMA_CODE_COMPACT_AT"] = "1"
    proc = cli_run(script, repo, isolated_env, *args)
    assert proc.returncode == 1 and "stopped: context full" in proc.stderr


def _session(repo: Path, turns: list[dict], context: int, saved=None, history=None,
             compact_at: float = 0.75) -> Session:
    settings = Settings(checkpoints=False, verify="off", compact_at=compact_at, sandbox="off",
                        retry_temperature=0)
    backend = ScriptedBackend.from_turns(turns, chunk_size=64)
    backend.context_size = context
    return Session(settings, backend, repo, DenyApprover(), saved, history)


def test_masking_stubs_the_oldest_outputs_and_keeps_the_newest_whole(repo):
    names = realistic_repo(repo)
    turns = [*tool_turns(names[:3], 3), *tool_turns(names[3:], 9)[:9], {"text": "done"}]
    session = _session(repo, turns, 8192)
    events = list(session.run(UserMessage.of("read the modules")))
    masks = [e for e in events if isinstance(e, Compacted)]
    assert masks and all(e.kind == "masked" for e in masks)
    assert masks[0].text.startswith(f"masked {masks[0].outputs_masked} old tool output")
    outputs = [m for m in session.agent.messages if isinstance(m, ToolMessage)]
    assert is_masked(outputs[0])
    assert re.fullmatch(rf"\[read_file {names[0]}: \d+ lines, elided\]", outputs[0].text)
    assert not any(is_masked(m) for m in outputs[-3:])  # the newest few stay whole
    # the model's next step saw the stubs: masking happened before it, once for many steps
    seen = session.backend.seen[-1]
    assert any(isinstance(m, ToolMessage) and is_masked(m) for m in seen)
    assert len(masks) <= 3 and events[-1] == TurnDone(reason="answered", steps=13)


def test_compaction_restarts_from_system_prompt_summary_and_latest_request(repo, tmp_path):
    chatter = "I considered the options at length. " * 120  # no tool output to mask
    turns = [{"text": f"Summary {i}: goal is to list files. " + chatter,
              "tool_calls": [{"name": "list_files", "arguments": {"pattern": f"*{i}*"}}]}
             for i in range(8)]
    turns += [{"text": "Listed."}]
    store = SessionStore(tmp_path / "sessions")
    saved = store.create(repo, "scripted")
    session = _session(repo, turns, 8192, saved=saved)
    events = list(session.run(UserMessage.of("list the files, thinking aloud")))
    compacted = [i for i, e in enumerate(events) if isinstance(e, Compacted)]
    assert compacted and all(events[i].kind == "compacted" for i in compacted)
    first = events[compacted[0]]
    assert first.tokens_after < first.tokens_before / 2 and first.text.startswith("compacted ")
    at = sum(isinstance(e, Usage) for e in events[: compacted[0]]) - 1  # the summary step
    asked = session.backend.seen[at][-1]
    assert isinstance(asked, UserMessage) and SUMMARY_REQUEST in asked.text
    after = session.backend.seen[at + 1]  # the step after compaction
    assert [m.role for m in after[:2]] == ["system", "user"] and after[0] == session.backend.seen[0][0]
    assert after[1].text.startswith("[Earlier conversation compacted")
    assert f"Summary {at}: goal" in after[1].text
    assert after[1].typed == "list the files, thinking aloud"
    assert events[-1].reason == "answered"

    # Resumed, the conversation is the compacted one, and it goes on from there.
    _, history = store.load(saved.info.id)
    assert history == session.agent.messages
    assert history[1] == after[1] and isinstance(history[-1], AssistantMessage)
    resumed = _session(repo, [{"text": "Still here."}], 32768, saved=saved, history=history)
    list(resumed.run(UserMessage.of("anything else?")))
    assert resumed.backend.seen[0][1] == after[1]
    assert store.load(saved.info.id)[1] == resumed.agent.messages


def test_compact_on_demand_with_a_focus(repo, tmp_path):
    session = _session(repo, [{"text": "Hi."}, {"text": "Summary: greeted."}], 8192)
    list(session.run(UserMessage.of("hello")))
    events = list(session.compact("the greeting"))
    assert isinstance(events[-1], Compacted) and events[-1].focus == "the greeting"
    assert any(isinstance(e, Usage) for e in events)  # the summary step is counted
    assert session.backend.seen[-1][-1].text.endswith("Focus on: the greeting")
    assert [m.role for m in session.agent.messages] == ["system", "user"]
    assert "Summary: greeted." in session.agent.messages[1].text


def test_summaries_never_nest_and_the_request_stays_last():
    first = restarted([SystemMessage(content="sys"), UserMessage.of("the task")], "one")
    second = restarted([*first, AssistantMessage(text="working")], "two")
    assert [m.role for m in second] == ["system", "user"] and second[1].typed == "the task"
    text = second[1].text
    assert text.count(BLOCK_HEAD.strip()) == 1 and "two" in text
    assert "[An earlier summary, shortened:] one" in text


def test_an_output_larger_than_a_quarter_of_the_context_is_cut_when_first_seen(repo):
    (repo / "big.py").write_text("".join(f"x_{i} = {i}  # a long line of data\n" for i in range(1500)))
    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": "big.py"}}]},
             {"text": "Read."}]
    session = _session(repo, turns, 2048)
    list(session.run(UserMessage.of("read big.py")))
    shown = session.backend.seen[1][-1]
    assert isinstance(shown, ToolMessage) and "characters cut" in shown.text
    assert len(shown.text) // 4 <= 2048 // 4 + 10
    assert shown.text.startswith("1\t") or "x_0 = 0" in shown.text  # the head is kept


def test_a_kill_while_the_session_is_saved_never_leaves_it_unreadable(tmp_path):
    kills = int(os.environ.get("GEMMA_CODE_KILLS", "5"))  # the benchmark kills 20 times or more
    assert long_session.kill_while_saving(tmp_path, kills) == kills


@pytest.mark.real_model
def test_a_real_model_compacts_a_long_session_and_goes_on(repo):
    """Gemma 3 270M (a base model, so it answers in text and calls no tool) at a 2048-token
    context over 30 turns, each carrying a file's code: it compacts several times and never
    runs out of context, and steps between compactions reuse the prompt cache. Kept short
    for 2 CPU cores: 4 tokens a step, 16 for a summary."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from gemma_code.backends.llama_cpp import LlamaCppBackend
    from gemma_code.backends.models.registry import ensure_local, get_spec

    names = realistic_repo(repo)
    spec = get_spec("gemma-3-270m")
    backend = LlamaCppBackend(ensure_local(spec), context_size=2048, sampling=spec.sampling,
                              chat_format=spec.chat_format, n_threads=2)
    settings = Settings(checkpoints=False, verify="off", sandbox="off", max_steps=1,
                        retry_temperature=0, edit_guards=False, constrain_tool_calls=False,
                        repo_map_tokens=0, context_files_tokens=0)
    session = Session(settings, backend, repo, DenyApprover())
    session.agent.options = replace(session.agent.options, max_tokens=4)
    session.compactor.summary_tokens = 16
    events = []
    try:
        for n in range(30):
            code = "\n".join((repo / names[n % FILES]).read_text().splitlines()[:30])
            events += session.run(UserMessage.of(f"Step {n}. Review this code:\n{code}"))
    finally:
        backend.close()
    usages = [e for e in events if isinstance(e, Usage)]
    assert len([e for e in events if isinstance(e, TurnDone)]) == 30
    assert not [u for u in usages if u.finish_reason == "context_full"]
    compactions = [e for e in events if isinstance(e, Compacted)]
    assert len(compactions) >= 2 and max(u.prompt_tokens for u in usages) < 2048
    reused = [round(u.cached_tokens / u.prompt_tokens, 2) for u in usages]
    after = [next(round(u.cached_tokens / u.prompt_tokens, 2) for u in events[i:]
                  if isinstance(u, Usage)) for i, e in enumerate(events) if isinstance(e, Compacted)]
    print("compactions:", [c.text for c in compactions])
    print("cache reuse per step:", reused, "; the step after each compaction:", after)
    assert sorted(reused)[len(reused) // 2] > 0.5  # most steps reuse most of the prompt


def test_memory_stays_flat_over_a_100_step_session(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    rows = long_session.long_session(root, 100, 8192)
    assert [row[0] for row in rows] == list(range(10, 101, 10))
    grown = rows[-1][2] - rows[0][2]  # current RSS, step 100 against step 10, in MiB
    assert grown < 40, rows
