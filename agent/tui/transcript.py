"""The transcript: turns the agent's event stream (or a saved history) into blocks."""

from __future__ import annotations

from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.widget import Widget

from gemma_code.agent.events import (
    AgentEvent, ApprovalNeeded, ApprovalResolved, ContextAttached, ErrorEvent, Notice,
    ReasoningDelta, StepStarted, TextDelta, ToolCallStarted, ToolFinished, ToolOutput, TurnDone,
    VerifyFinished, VerifyStarted,
)
from gemma_code.agent.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage

from .approval import ApprovalPrompt
from .history import attachments, resumed_result, user_display
from .verify_block import VerifyBlock
from .widgets import AssistantBlock, NoticeBlock, ThinkingBlock, ToolBlock, UserBlock

ENDINGS = {
    "cancelled": ("interrupted: the session is still here, send another message", "warning"),
    "max_steps": ("stopped: the step limit for one turn was reached", "warning"),
    "repeated": ("stopped: the model kept repeating the same call", "warning"),
    "context_full": ("stopped: the context window is full (/clear starts afresh)", "error"),
    "length": ("stopped: the answer hit the token limit for one step", "warning"),
}


class Transcript(VerticalScroll):
    """The conversation so far; follows the bottom while it grows."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tools: dict[str, ToolBlock] = {}
        self.running: ToolBlock | None = None  # the call that runs now: its output goes there
        self._text: AssistantBlock | None = None
        self._thinking: ThinkingBlock | None = None

    def on_mount(self) -> None:
        self.anchor()

    async def add(self, block: Widget) -> Widget:
        # Anchored, the view follows new blocks unless the person has scrolled up to read.
        await self.mount(block)
        return block

    async def clear_blocks(self) -> None:
        await self.end_text()
        self.tools.clear()
        self.running = None
        await self.remove_children()

    async def end_text(self) -> None:
        """Close the streaming answer, so the next text starts a new block."""
        if self._text is not None:
            await self._text.finish()
        self._text, self._thinking = None, None

    def pending_prompts(self) -> list[ApprovalPrompt]:
        return [p for p in self.query(ApprovalPrompt) if not p.answered]

    async def show(self, event: AgentEvent) -> None:
        """Add what one event means to the transcript."""
        if isinstance(event, StepStarted):
            await self.end_text()
        elif isinstance(event, TextDelta):
            if self._text is None:
                self._text = await self.add(AssistantBlock())
            await self._text.write(event.text)
        elif isinstance(event, ReasoningDelta):
            if self._thinking is None:
                self._thinking = await self.add(ThinkingBlock())
            self._thinking.append(event.text)
        elif isinstance(event, ToolCallStarted):
            await self.end_text()
            self.running = await self._tool(event.call)
        elif isinstance(event, ToolOutput):
            if self.running is not None:
                self.running.take_output(event.text)
        elif isinstance(event, ApprovalNeeded):
            block = await self._tool(event.call)
            block.waiting(event.diff)
            prompt = ApprovalPrompt(event)
            await block.mount(prompt)
            # Now, not on the next tick as focus() would: a y/a/n typed at once must reach it.
            self.screen.set_focus(prompt)
            self.anchor()
        elif isinstance(event, ApprovalResolved):
            await self._resolved(event)
        elif isinstance(event, ToolFinished):
            block = self.tools.get(event.call_id) or await self._tool(ToolCall(id=event.call_id, name=event.name))
            block.finish(event)
        elif isinstance(event, TurnDone):
            await self.end_text()
            if event.reason in ENDINGS:
                await self.add(NoticeBlock(*ENDINGS[event.reason]))
        elif isinstance(event, ErrorEvent):
            await self.add(NoticeBlock(f"error: {event.message}", "error"))
        elif isinstance(event, Notice):
            await self.end_text()
            await self.add(NoticeBlock(event.text))
        elif isinstance(event, ContextAttached):
            await self.add(NoticeBlock(event.line()))
        elif isinstance(event, (VerifyStarted, VerifyFinished)):
            await self._verify(event)

    async def _verify(self, event: VerifyStarted | VerifyFinished) -> None:
        """The tests' own block: approval events find it by its call id, like a tool's."""
        if isinstance(event, VerifyStarted):
            await self.end_text()
            self.tools[event.call_id] = self.running = await self.add(VerifyBlock(event))
        elif isinstance(block := self.tools.get(event.call_id), VerifyBlock):
            block.verified(event)

    async def _tool(self, call: ToolCall) -> ToolBlock:
        if call.id not in self.tools:
            self.tools[call.id] = await self.add(ToolBlock(call))
        return self.tools[call.id]

    async def _resolved(self, event: ApprovalResolved) -> None:
        block = self.tools.get(event.call_id)
        if block is None:
            return
        for prompt in block.query(ApprovalPrompt):
            prompt.answered = True
            await prompt.remove()
        block.resolved(event.approved, event.note)

    async def show_history(self, messages: Sequence[Message]) -> None:
        """A saved conversation, as it would have looked."""
        for message in messages:
            if isinstance(message, UserMessage):
                await self.add(UserBlock(user_display(message.typed), attachments(message)))
            elif isinstance(message, AssistantMessage):
                if message.reasoning:
                    await self.add(ThinkingBlock(message.reasoning))
                if message.text:
                    await self.add(AssistantBlock(message.text))
                for call in message.tool_calls:
                    await self._tool(call)
            elif isinstance(message, ToolMessage):
                block = await self._tool(ToolCall(id=message.call_id, name=message.name))
                block.finish(resumed_result(message))
        self.tools.clear()
