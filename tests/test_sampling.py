"""The grammar checked on the sampled token first (`backends.sampling.CheckedSampler`), on the
real llama.cpp with Gemma 3 270M: the same greedy tokens as llama-cpp-python's grammar-first
chain, and a refused token sampled again under the grammar."""

from __future__ import annotations

import re

import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

from gemma_code.backends.grammar import compile_grammar, tool_call_grammar  # noqa: E402
from gemma_code.backends.models.registry import ensure_local, get_spec  # noqa: E402
from gemma_code.backends.sampling import CheckedSampler  # noqa: E402
from gemma_code.agent.protocols import ToolSpec  # noqa: E402

READ = ToolSpec(name="read_file", description="Read a file.", parameters={
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})
PROMPT = "To see what is in the file notes.txt, the assistant reads it.\n"


@pytest.fixture(scope="module")
def llm():
    from gemma_code.backends.llama_cpp import new_llama

    model = new_llama(model_path=str(ensure_local(get_spec("gemma-3-270m"))), n_ctx=1024,
                      n_threads=2, verbose=False)
    yield model
    model.close()


def _checked_tokens(llm, grammar, limit: int, temp: float = 0.0) -> list[int]:
    llm.reset()
    llm.eval(llm.tokenize(PROMPT.encode()))
    sampler = CheckedSampler(llm, grammar, top_k=40, top_p=0.95, min_p=0.05, temp=temp,
                             repeat_penalty=1.0)
    tokens: list[int] = []
    try:
        while len(tokens) < limit:
            token = sampler.sample(llm._ctx, -1)
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                break
            tokens.append(token)
            llm.eval([token])
    finally:
        sampler.close()
    return tokens


def _grammar_first_tokens(llm, grammar, limit: int) -> list[int]:
    llm.reset()
    tokens: list[int] = []
    for token in llm.generate(llm.tokenize(PROMPT.encode()), temp=0.0, top_k=40, top_p=0.95,
                              min_p=0.05, repeat_penalty=1.0, grammar=grammar, reset=True):
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or len(tokens) >= limit:
            break
        tokens.append(token)
    return tokens


@pytest.mark.real_model
@pytest.mark.parametrize("fmt", ["hermes", "plain"])
def test_greedy_tokens_are_those_of_the_grammar_first_chain(llm, fmt):
    grammar = compile_grammar(llm, tool_call_grammar([READ], fmt, marker_tokens=False))
    ours = _checked_tokens(llm, grammar, 80)
    assert ours == _grammar_first_tokens(llm, grammar, 80)
    text = llm.detokenize(ours).decode()
    assert "read_file" in text and "notes.txt" in text, text


@pytest.mark.real_model
@pytest.mark.parametrize("temp", [0.0, 0.9])
def test_a_token_the_grammar_refuses_is_sampled_again_under_it(llm, temp):
    # The model would never start with "zebra": the first draws are refused and redrawn.
    grammar = compile_grammar(llm, 'root ::= "zebra " [0-9] [0-9] [0-9]')
    llm.set_seed(3)
    text = llm.detokenize(_checked_tokens(llm, grammar, 20, temp)).decode()
    assert re.fullmatch(r"zebra \d{3}", text), text


@pytest.mark.real_model
def test_without_a_grammar_it_is_the_plain_chain(llm):
    free = _checked_tokens(llm, None, 12)
    llm.reset()
    plain = []
    for token in llm.generate(llm.tokenize(PROMPT.encode()), temp=0.0, repeat_penalty=1.0,
                              reset=True):
        if len(plain) == len(free):
            break
        plain.append(token)
    assert free == plain and len(free) == 12
