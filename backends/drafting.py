"""Prompt-lookup speculative decoding for the llama.cpp backend.

Much of what an agent writes copies its context (a file it read, an `edit_file` call's `old`
string, paths and names). `PromptLookup` drafts the tokens that followed the latest earlier
occurrence of the context's last few tokens; `speculative_tokens` evaluates the sampled
token and the draft in one batch and samples every position with the step's own sampler
chain (penalties, grammar, greedy or random). A drafted token is kept only while it equals
the token sampled at its position, and the first token that differs is itself the sample.

Why this is exact: every sample is drawn from the logits of the tokens actually produced
before it, by the same sampler, once per produced token (so even the random stream is the
one plain decoding uses). Under sampling this is standard speculative acceptance for a drafter
that proposes one token with certainty (keep it with probability p(draft), else a token from
the rest of p): the output distribution is the model's. The grammar and the penalties see only
produced tokens, and rejected drafts leave the KV cache at once.

The logits themselves must match too, and whether a batch's rows get the logits one-token
decoding gets depends on the build: llama.cpp's CPU kernels for repacked quantized weights
compute four or more batch rows together with a different rounding (measured: logits up to
0.7 apart), and fewer rows one by one, as a single token (so a batch of three costs about
three tokens' time, and drafting gains nothing). So "auto" drafts only as many tokens as
`exact_draft_limit` found this model's batches to reproduce bit for bit and faster than one
by one (8, else 2, else none): the same tokens as plain decoding, or no drafting at all.
"lookup" drafts up to `LONGEST_DRAFT` tokens whatever the build: faster on long copies, the
same tokens only up to that rounding (at temperature 0 a near tie can come out the other way).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Literal

DraftMode = Literal["auto", "off", "lookup"]
EXACT_DRAFTS = (8, 2)  # the draft lengths "auto" tries, longest first
LONGEST_DRAFT = 16


@dataclass
class DraftStats:
    """How many tokens one step drafted, and how many of them the model accepted."""

    drafted: int = 0
    accepted: int = 0


class PromptLookup:
    """Drafts from the context itself: the tokens that followed the latest earlier occurrence
    of its last n-gram (the longest of `ngram_sizes` that occurred before)."""

    def __init__(self, ngram_sizes: Sequence[int] = (4, 3, 2)) -> None:
        self.sizes = sorted(ngram_sizes, reverse=True)
        self.tokens: list[int] = []
        self._follows: dict[tuple[int, ...], int] = {}  # n-gram -> where its continuation starts

    def follow(self, context: Sequence[int]) -> None:
        """Make `context` the tokens drafted from (extended in place when it continues them)."""
        known = len(self.tokens)
        if len(context) < known or list(context[:known]) != self.tokens:
            self.tokens, self._follows, known = [], {}, 0
        for token in context[known:]:
            self.append(token)

    def append(self, token: int) -> None:
        """One more token of context."""
        tokens = self.tokens
        tokens.append(token)
        end = len(tokens) - 1  # the n-grams that end just before it now have a continuation
        for n in self.sizes:
            if end >= n:
                self._follows[tuple(tokens[end - n:end])] = end

    def draft(self, limit: int) -> list[int]:
        """Up to `limit` tokens that may come next; none when the last n-gram is new."""
        if limit <= 0:
            return []
        tokens = self.tokens
        for n in self.sizes:
            start = self._follows.get(tuple(tokens[-n:])) if len(tokens) > n else None
            if start is not None:
                draft = tokens[start:start + limit]
                cut = next((i for i, t in enumerate(draft) if t < 0), len(draft))  # images
                return draft[:cut]
        return []


class DraftPolicy:
    """How many tokens to draft next. The length doubles after a draft accepted whole and
    halves after one rejected whole, up to `exact_limit` in "auto" mode (see
    `exact_draft_limit`) and `LONGEST_DRAFT` in "lookup" mode. In "auto" mode two wholly
    rejected drafts in a row pause drafting for a while (longer each time), so free prose,
    where lookups rarely hit, decodes at plain speed."""

    def __init__(self, mode: DraftMode, exact_limit: int = 0) -> None:
        self.mode = mode
        self.longest = {"auto": exact_limit, "lookup": LONGEST_DRAFT}.get(mode, 0)
        self.length = min(4, self.longest)
        self.pause = 0  # tokens left to decode without drafting
        self.misses = 0  # wholly rejected drafts in a row
        self.backoff = 8

    def next_length(self) -> int:
        if self.longest == 0:
            return 0
        if self.pause > 0:
            self.pause -= 1
            return 0
        return self.length

    def update(self, drafted: int, accepted: int) -> None:
        if drafted == 0:
            return
        if accepted == drafted:
            self.length = min(self.longest, self.length * 2)
        elif accepted == 0:
            self.length = max(1, self.length // 2)
        if accepted:
            self.misses, self.backoff = 0, 8
            return
        self.misses += 1
        if self.mode == "auto" and self.misses >= 2:
            self.pause, self.backoff = self.backoff, min(64, self.backoff * 2)
            self.misses = 0


def _evaluate(llm: Any, tokens: list[int]) -> None:
    """Decode `tokens` after the cache in one batch, with logits at every position."""
    at = llm.n_tokens
    llm._ctx.kv_cache_seq_rm(-1, at, -1)
    llm._batch.set_batch(batch=tokens, n_past=at, logits_all=len(tokens) > 1)
    llm._ctx.decode(llm._batch)
    llm.input_ids[at:at + len(tokens)] = tokens
    llm.n_tokens = at + len(tokens)
    llm._requires_eval = False


def _forget_after(llm: Any, keep: int) -> None:
    """Drop every cached token after the first `keep` (the logits left are stale then)."""
    if llm.n_tokens > keep:
        if not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            raise RuntimeError("llama.cpp could not drop rejected draft tokens from its cache")
        llm.n_tokens = keep
        llm._requires_eval = True


def _logits(llm: Any, row: int) -> Any:
    import llama_cpp
    import numpy as np

    pointer = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, row)
    return np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).copy()


def probe_batch(llm: Any, tokens: list[int]) -> tuple[bool, float]:
    """(whether `tokens` evaluated in one batch after the cache get, bit for bit, the logits
    they get one at a time; the batch's time over the single steps' time). Both are dropped
    from the cache afterwards."""
    start, singles = llm.n_tokens, []
    began = time.perf_counter()
    for token in tokens:
        _evaluate(llm, [token])
        singles.append(_logits(llm, -1))
    one_by_one = time.perf_counter() - began
    _forget_after(llm, start)
    began = time.perf_counter()
    _evaluate(llm, tokens)
    together = time.perf_counter() - began
    same = all((_logits(llm, row) == single).all() for row, single in enumerate(singles))
    _forget_after(llm, start)
    return same, together / max(one_by_one, 1e-9)


def exact_draft_limit(llm: Any, context: Sequence[int], cost: float = 0.6) -> int | None:
    """The longest of `EXACT_DRAFTS` whose verifying batch this model and build compute as
    one-token decoding does, in at most `cost` of the time its tokens take one at a time (tried
    after `context`, which the cache holds), else 0; None when there is no room to try. The
    cache keeps `context`, its last logits stale."""
    sample = [t for t in context if t >= 0][-(EXACT_DRAFTS[0] + 1):]
    if not sample or llm.n_tokens + EXACT_DRAFTS[0] + 1 >= llm.n_ctx():
        return None
    for length in EXACT_DRAFTS:
        same, time_ratio = probe_batch(llm, (sample * (length + 1))[: length + 1])
        if same and time_ratio <= cost:
            return length
    return 0


def remembered_exact_draft(facts: Sequence[object], measure: Callable[[], int | None],
                           cache: Path) -> int | None:
    """`exact_draft_limit`'s answer for a model and build described by `facts`, measured once
    and kept in the JSON file `cache` (measuring takes a dozen decoding steps at every start,
    a tenth of a short answer's time). None (no room to measure) is not kept; a damaged
    cache file is measured over."""
    key = hashlib.sha256(json.dumps([str(f) for f in facts]).encode()).hexdigest()[:32]
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    value = known.get(key)
    if isinstance(value, int) and value in (0, *EXACT_DRAFTS):
        return value
    value = measure()
    if value is None:
        return None
    known[key] = value
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache directory: measured again next start
    return value


def speculative_tokens(llm: Any, sampler: Any, lookup: PromptLookup, policy: DraftPolicy,
                       stats: DraftStats, limit: int) -> Generator[int, None, None]:
    """Tokens sampled after the context `llm`'s cache holds (its logits fresh), drafting from
    `lookup` (which holds that context) as `policy` says, for at most `limit` tokens. Whenever
    the consumer stops, the cache keeps the context and every token yielded but the last, as
    plain one-token decoding leaves it."""
    start, produced = llm.n_tokens, 0
    ctx, room_in_context = llm._ctx, llm.n_ctx() - 1
    try:
        token = sampler.sample(ctx, -1)
        while True:
            produced += 1  # counted before the yield: the consumer may stop there
            lookup.append(token)
            yield token
            room = min(limit - produced - 1, room_in_context - llm.n_tokens - 1)
            draft = lookup.draft(min(policy.next_length(), room))
            _evaluate(llm, [token, *draft])
            stats.drafted += len(draft)
            accepted = 0
            for row, guess in enumerate(draft):
                token = sampler.sample(ctx, row)
                if token != guess:
                    break
                accepted += 1
                stats.accepted += 1
                produced += 1
                lookup.append(token)
                yield token
            else:
                token = sampler.sample(ctx, len(draft))
            _forget_after(llm, llm.n_tokens - (len(draft) - accepted))
            policy.update(len(draft), accepted)
    finally:
        _forget_after(llm, start + max(produced - 1, 0))
