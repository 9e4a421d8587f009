"""Prompt-lookup speculative decoding: the drafter alone, then the real llama.cpp backend on
Gemma 3 270M, where drafting on must give exactly the tokens drafting off gives."""

from __future__ import annotations

import pytest

from gemma_code.agent.events import TextDelta, ToolCallParsed, Usage
from gemma_code.agent.messages import AssistantMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolSpec
import json

from gemma_code.backends.cache_dir import user_cache_dir
from gemma_code.backends.drafting import (
    EXACT_DRAFTS, LONGEST_DRAFT, DraftPolicy, PromptLookup, exact_draft_limit,
    remembered_exact_draft,
)
from gemma_code.backends.models.registry import ensure_local, get_spec


def test_lookup_drafts_what_followed_the_latest_earlier_occurrence():
    lookup = PromptLookup(ngram_sizes=(3, 2))
    lookup.follow([1, 2, 7, 1, 2, 8, 5, 1, 2])
    assert lookup.draft(3) == [8, 5, 1]  # "5 1 2" is new; "1 2" last came before 8
    lookup.follow([1, 2, 7, 1, 2, 8, 5, 1, 2, 7])
    assert lookup.draft(2) == [1, 2]  # extended in place; the longer "1 2 7" wins


def test_lookup_drafts_nothing_for_a_new_ngram_or_past_an_image():
    lookup = PromptLookup(ngram_sizes=(2,))
    lookup.follow([5, 6, 7, 8])
    assert lookup.draft(4) == []
    lookup.follow([5, 6, -1, -1, 9, 5, 6])  # not a continuation: rebuilt
    assert lookup.draft(4) == []  # an image placeholder is never drafted


def test_auto_pauses_after_drafts_keep_missing_and_lookup_does_not():
    auto, always = DraftPolicy("auto", exact_limit=2), DraftPolicy("lookup")
    for policy in (auto, always):
        for _ in range(2):
            policy.update(policy.next_length(), 0)
    assert auto.next_length() == 0 and always.next_length() > 0
    auto.pause = 0
    for _ in range(4):
        for policy in (auto, always):
            policy.update(policy.next_length(), policy.length)  # accepted whole
    assert auto.next_length() == 2  # no longer than the build verifies exactly
    assert always.next_length() == LONGEST_DRAFT
    assert DraftPolicy("auto", exact_limit=0).next_length() == 0


def test_the_exactness_measure_is_kept_per_model_and_build(tmp_path):
    cache, measured = tmp_path / "drafting.json", []

    def measure(value):
        return lambda: measured.append(value) or value

    assert remembered_exact_draft(("model-a", 1), measure(8), cache) == 8
    assert remembered_exact_draft(("model-a", 1), measure(2), cache) == 8  # kept, not measured
    assert remembered_exact_draft(("model-a", 2), measure(0), cache) == 0  # other facts
    assert measured == [8, 0]
    assert remembered_exact_draft(("model-b",), measure(None), cache) is None
    assert len(json.loads(cache.read_text())) == 2  # "no room to measure" is not kept
    cache.write_text("{damaged")
    assert remembered_exact_draft(("model-a", 1), measure(2), cache) == 2
    assert measured == [8, 0, None, 2]


llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

CODE = "\n".join(f"def scale_{i}(x):\n    return x * {i} + {i * i}\n" for i in range(8))

WRITE = ToolSpec(
    name="write_file", description="Write a whole file.",
    parameters={"type": "object", "properties": {
        "path": {"type": "string"}, "content": {"type": "string"}}, "required": ["path", "content"]},
)


@pytest.fixture(scope="module")
def gemma270m():
    from gemma_code.backends.llama_cpp import LlamaCppBackend

    spec = get_spec("gemma-3-270m")
    backend = LlamaCppBackend(ensure_local(spec), context_size=2048, sampling=spec.sampling,
                              chat_format=spec.chat_format, n_threads=2)
    # "auto" drafts where batches are exact and faster; here it drafts wherever they are
    # exact, speed aside (a CPU build computes a batch of three exactly, but no faster)
    context = backend.tokenize(CODE)
    backend.prefill(context, None)
    backend.exact_draft = exact_draft_limit(backend.llm, context, cost=float("inf"))
    yield backend
    backend.close()


def _run(backend, draft, messages, options, tools=(), fresh=True):
    """(streamed text, tool calls, usage) of one step with drafting `draft`."""
    backend.draft = draft
    if fresh:  # the same cold start for both modes: nothing cached, no history
        backend.llm.reset()
        backend.history.last = None
    events = list(backend.stream(messages, tools, options))
    usage = events[-1]
    assert isinstance(usage, Usage)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
    return text, calls, usage


@pytest.mark.real_model
def test_greedy_output_is_the_same_with_drafts_accepted(gemma270m):
    messages = [UserMessage.of(f"Copy this code exactly:\n\n{CODE}\n\nCopy:\n\n")]
    options = GenerationOptions(max_tokens=80, temperature=0)
    plain, _, off = _run(gemma270m, "off", messages, options)
    drafted, _, on = _run(gemma270m, "auto", messages, options)
    assert drafted == plain and on.completion_tokens == off.completion_tokens
    assert off.drafted_tokens == 0
    assert gemma270m.exact_draft in EXACT_DRAFTS, "this build computes no batch exactly"
    assert on.accepted_tokens > 0 and on.drafted_tokens >= on.accepted_tokens
    _, _, long = _run(gemma270m, "lookup", messages, options)
    assert long.accepted_tokens > 0  # long drafts: the same tokens up to rounding, not asserted


@pytest.mark.real_model
def test_the_exactness_probe_leaves_the_cache_holding_the_context(gemma270m):
    gemma270m.llm.reset()
    context = gemma270m.tokenize(CODE)
    gemma270m.prefill(context, None)
    assert exact_draft_limit(gemma270m.llm, context) in (0, *EXACT_DRAFTS)
    llm = gemma270m.llm
    assert list(llm.input_ids[: llm.n_tokens]) == context and llm._requires_eval


@pytest.mark.real_model
def test_auto_measures_exactness_once_and_remembers_it_across_starts(gemma270m):
    kept = gemma270m.exact_draft
    context = gemma270m.tokenize(CODE)
    try:
        measured = gemma270m._exact_draft(context)
        assert measured in (0, *EXACT_DRAFTS)
        cache = user_cache_dir() / "drafting.json"
        (key, value), = json.loads(cache.read_text()).items()
        assert value == measured
        other = 2 if measured != 2 else 8  # a later start takes the kept figure
        cache.write_text(json.dumps({key: other}))
        assert gemma270m._exact_draft(context) == other
    finally:
        gemma270m.exact_draft = kept


@pytest.mark.real_model
def test_sampled_output_is_the_same_for_the_same_seed(gemma270m):
    # Each produced token is sampled once, from its own logits: the random stream is the same.
    messages = [UserMessage.of(f"Copy this code exactly:\n\n{CODE}\n\nCopy:\n\n")]
    options = GenerationOptions(max_tokens=40, temperature=0.7)
    texts = []
    for draft in ("off", "auto"):
        gemma270m.llm.set_seed(7)
        texts.append(_run(gemma270m, draft, messages, options)[0])
    assert texts[0] == texts[1]


@pytest.mark.real_model
def test_a_grammar_constrained_call_is_the_same_and_well_formed(gemma270m):
    messages = [UserMessage.of(f"Save this as scale.py:\n\n{CODE}")]
    options = GenerationOptions(max_tokens=120, temperature=0, tool_choice="required")
    results = [_run(gemma270m, draft, messages, options, (WRITE,)) for draft in ("off", "auto")]
    (plain, plain_calls, _), (drafted, calls, usage) = results
    assert drafted == plain
    assert [(c.name, c.arguments) for c in calls] == [(c.name, c.arguments) for c in plain_calls]
    if usage.finish_reason == "tool_calls":
        assert len(calls) == 1 and calls[0].parse_error is None and calls[0].name == "write_file"
    assert usage.drafted_tokens > 0


@pytest.mark.real_model
def test_the_cache_and_history_stay_consistent_over_two_turns(gemma270m):
    first = [UserMessage.of(f"Copy this code exactly:\n\n{CODE}\n\nCopy:\n\n")]
    options = GenerationOptions(max_tokens=48, temperature=0)
    outputs = {}
    for draft in ("off", "auto"):
        text1, _, usage1 = _run(gemma270m, draft, first, options)
        second = [*first, AssistantMessage(text=text1), UserMessage.of("Once more, please.")]
        text2, _, usage2 = _run(gemma270m, draft, second, options, fresh=False)
        # the second turn reuses everything up to the first one's last sampled token
        assert usage2.cached_tokens == usage1.prompt_tokens + usage1.completion_tokens - 1
        llm = gemma270m.llm
        held = list(llm.input_ids[: llm.n_tokens])
        assert held == gemma270m.history.last.tokens[: llm.n_tokens]
        outputs[draft] = (text1, text2, usage2.cached_tokens)
    assert outputs["auto"] == outputs["off"]
