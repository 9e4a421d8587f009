"""The block that shows a run of the project's tests after a turn changed files."""

from __future__ import annotations

from textual.content import Content

from gemma_code.agent.events import VerifyFinished, VerifyStarted
from gemma_code.agent.messages import ToolCall

from .render import without_exit_trailer
from .widgets import ToolBlock

MARKS = {"passed": ("✓", "$text-success"), "failed": ("✗", "$text-error"),
         "timed_out": ("✗", "$text-error"), "not_run": ("–", "$text-warning")}


class VerifyBlock(ToolBlock):
    """A tool block (it may wait for approval like one) headed "tests" and where the command
    was found; it ends with how the tests went and, when they did not pass, their output."""

    def __init__(self, event: VerifyStarted) -> None:
        self.source = event.source
        super().__init__(ToolCall(id=event.call_id, name="run_shell",
                                  arguments={"command": event.command}))
        self.add_class("verify")

    def _headline(self) -> Content:
        command = str(self.call.arguments["command"]).replace("\n", "⏎")
        return Content.assemble(("tests", "bold"), " ", ("$ " + command, "$text-accent"),
                                (f"  from {self.source}", "$text-muted"))

    def verified(self, event: VerifyFinished) -> None:
        mark, style = MARKS[event.outcome]
        failing = f": {', '.join(event.failures)}" if event.failures else ""
        output = without_exit_trailer(event.output.rstrip(), event.exit_code).rstrip()
        self._body, self._tail = Content(output), True  # the failures come at the end
        state = {"passed": "done", "not_run": "denied"}.get(event.outcome, "error")
        self._state(f"{state} verify", Content.assemble((f"{mark} ", style), event.summary + failing))
        self._show_body()
