"""Context before the first token: the repo map and the files a message points at."""

from __future__ import annotations

from ..config import Settings
from ..events import ContextAttached, Notice
from ..messages import TextPart, UserMessage
from ..protocols import AgentProfile
from .prepare import default_budgets, prepare, token_counter


def budgets(settings: Settings, context_size: int,
            profile: AgentProfile = AgentProfile()) -> tuple[int, int]:
    """(map tokens, attached-files tokens): the settings, else the model's profile, else
    defaults scaled to the context."""
    map_default, files_default = default_budgets(context_size)

    def first(*values: int | None) -> int:
        return next(value for value in values if value is not None)

    return (first(settings.repo_map_tokens, profile.repo_map_tokens, map_default),
            first(settings.context_files_tokens, profile.context_files_tokens, files_default))


def add_context(agent, settings: Settings, user: UserMessage
                ) -> tuple[UserMessage, ContextAttached | Notice | None]:
    """`user` with the context put before its text, and what to tell the person.

    The map goes only into a conversation's first user message: the system prompt stays the
    same for every turn, and each later prompt extends the one before (the cache holds)."""
    first = not any(isinstance(m, UserMessage) for m in agent.messages)
    map_tokens, files_tokens = budgets(settings, agent.backend.context_size, agent.backend.profile)
    ctx = agent.ctx
    given = "\n".join(m.text for m in agent.messages if isinstance(m, UserMessage))
    try:
        prepared = prepare(ctx.workspace.root, user.text, map_tokens=map_tokens if first else 0,
                           files_tokens=files_tokens, count_tokens=token_counter(agent.backend),
                           cancel=ctx.cancel, given=given, first=first)
    except (OSError, RuntimeError, ValueError, ImportError) as exc:
        return user, Notice(text=f"no repo map or attached files this turn: {exc}")
    ctx.seen.update(prepared.digests)
    if not prepared.blocks:
        return user, prepared.event
    blocks = tuple(TextPart(text=block) for block in prepared.blocks)
    return UserMessage(content=(*blocks, *user.content)), prepared.event
