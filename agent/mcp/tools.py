"""MCP tools as registry tools: named SERVER__TOOL, shown with the server's JSON schema,
mutating unless the server marks them read-only, their results turned into parts."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any, ClassVar

from pydantic import RootModel

from ..images import ImageError, image_for_model, prepare_image
from ..messages import Part, TextPart
from ..protocols import ToolContext, ToolError, ToolResult
from .connection import ServerGone, ServerTool
from .manager import CallCancelled, McpManager

MAX_TEXT_CHARS = 20_000  # of one result's text, for the model's context
MAX_IMAGES = 4  # of one result
MAX_DESCRIPTION_CHARS = 1_000  # of a tool's description: every step's prompt holds it
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64  # what OpenAI-style servers accept as a tool name


class McpArguments(RootModel[dict[str, Any]]):
    """An MCP tool's arguments, taken as the dict the model gave; the spec the model sees is
    the server's own schema (`input_schema`), which `McpTool.check` applies."""

    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.input_schema)


def _shown_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The server's schema as a tool's parameters: an object, without `$schema`."""
    shown = {key: value for key, value in schema.items() if key != "$schema"}
    shown["type"] = "object"
    shown.setdefault("properties", {})
    return shown


class McpTool:
    """One tool of one server, called through the manager."""

    runs_commands: ClassVar[bool] = False

    def __init__(self, manager: McpManager, server: str, remote: ServerTool, name: str,
                 approval: str) -> None:
        self.manager, self.server, self.remote = manager, server, remote
        self.name = name
        about = remote.description.strip() or f"the {remote.name} tool of the {server} MCP server"
        self.description = about[:MAX_DESCRIPTION_CHARS]
        self.mutating = not remote.read_only
        self.approval_action = (f"call {remote.name} on the MCP server {server}, which does "
                                "not mark it read-only")
        self.approve_always = approval == "auto" and self.mutating
        self.Args = type(f"{name}_arguments", (McpArguments,),
                         {"input_schema": _shown_schema(remote.input_schema)})

    def check(self, args: McpArguments, ctx: ToolContext) -> None:
        """Arguments the server's schema refuses fail here, before anyone is asked."""
        from jsonschema import validators

        schema = self.Args.input_schema
        try:
            checker = validators.validator_for(schema)(schema)
            problem = next(iter(checker.iter_errors(args.root)), None)
        except Exception:  # noqa: BLE001 - a broken schema, a $ref that does not resolve
            return  # then the server itself judges the arguments
        if problem is not None:
            where = ".".join(str(p) for p in problem.absolute_path) or "arguments"
            raise ToolError(f"invalid arguments for {self.name}: {where}: {problem.message}",
                            "malformed")

    def __call__(self, args: McpArguments, ctx: ToolContext) -> ToolResult:
        where = f"MCP server {self.server}"
        try:
            result = self.manager.call(self.server, self.remote.name, args.root, ctx.cancel)
        except ServerGone as exc:
            raise ToolError(f"{where} is not running: {exc}; its other tools fail too") from None
        except TimeoutError:
            limit = self.manager.servers[self.server].timeout
            raise ToolError(f"{where} did not answer {self.remote.name} within {limit:g} "
                            "seconds (the `timeout` of the server)", "timed_out") from None
        except CallCancelled:
            raise ToolError(f"interrupted while {where} ran {self.remote.name}") from None
        except Exception as exc:  # noqa: BLE001 - an invalid answer or a server's error
            raise ToolError(f"{where} failed on {self.remote.name}: {_one_line(exc)}") from None
        return result_for_model(result, ctx, self.server)


def _one_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def result_for_model(result: Any, ctx: ToolContext, server: str) -> ToolResult:
    """A `CallToolResult` as parts: text, images (or their OCR text), resource links as lines;
    the text cut at MAX_TEXT_CHARS, saying so."""
    texts: list[str] = []
    images: list[Part] = []
    for block in result.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "image" and len(images) < MAX_IMAGES:
            parts = _image_parts(block.data, server, ctx)
            images += [p for p in parts if not isinstance(p, TextPart)]
            texts += [p.text for p in parts if isinstance(p, TextPart)]
        elif block.type == "resource_link":
            about = f" ({block.description})" if block.description else ""
            texts.append(f"resource: {block.uri} {block.name}{about}".rstrip())
        elif block.type == "resource":
            inner = block.resource
            body = getattr(inner, "text", None)
            texts.append(f"resource {inner.uri}:\n{body}" if body is not None
                         else f"resource {inner.uri}: binary ({inner.mime_type or 'unknown type'}), not shown")
        else:
            texts.append(f"[{block.type} content from {server}, not shown]")
    if not result.content and result.structured_content is not None:
        texts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text, cut = _capped("\n".join(texts))
    content = (*([TextPart(text=text)] if text or not images else []), *images)
    if result.is_error:
        first = text.strip().splitlines()[0] if text.strip() else "the tool reported an error"
        return ToolResult(content=content, is_error=True, summary=first[:200], error_kind="other")
    size = f"{len(text)} characters" + (f", {len(images)} image(s)" if images else "")
    return ToolResult(content=content, summary=f"{size}{', cut' if cut else ''}")


def _capped(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_TEXT_CHARS:
        return text, False
    return (text[:MAX_TEXT_CHARS] + f"\n[output cut: the first {MAX_TEXT_CHARS} of "
            f"{len(text)} characters are shown]"), True


def _image_parts(data: str, server: str, ctx: ToolContext) -> tuple[Part, ...]:
    try:
        image = prepare_image(base64.b64decode(data, validate=True), name=f"image from {server}")
        return image_for_model(image, vision=ctx.vision).parts
    except (ImageError, binascii.Error, ValueError) as exc:
        return (TextPart(text=f"[an image from {server} is not shown: {exc}]"),)


def mcp_tools(manager: McpManager, taken: list[str]) -> tuple[list[McpTool], list[str]]:
    """The tools of every running server, and a line for each tool left out (its name
    clashes with one `taken` or listed before it, or cannot be a tool name)."""
    tools: list[McpTool] = []
    notes: list[str] = []
    names = set(taken)
    for name, connection in manager.connections.items():
        if not connection.running:
            continue
        approval = manager.servers[name].approval
        for remote in connection.tools:
            full = f"{name}__{_NAME_CHARS.sub('_', remote.name)}"
            if full in names:
                notes.append(f"MCP server {name}: its tool {remote.name!r} is left out: the name "
                             f"{full} is taken by another tool")
            elif len(full) > _MAX_NAME:
                notes.append(f"MCP server {name}: its tool {remote.name!r} is left out: {full} "
                             f"is longer than {_MAX_NAME} characters")
            else:
                tool = McpTool(manager, name, remote, full, approval)
                problem = _ungrammatical(tool)
                if problem is None:
                    names.add(full)
                    tools.append(tool)
                else:
                    notes.append(f"MCP server {name}: its tool {remote.name!r} is left out: its "
                                 f"input schema cannot constrain a call ({problem})")
    return tools, notes


def _ungrammatical(tool: McpTool) -> str | None:
    """Why no tool-call grammar can be made from the tool's schema (None: one can). Local
    models constrain every call to the tools' schemas: one bad schema would stop them all."""
    from gemma_code.backends.grammar import tool_call_grammar
    from gemma_code.tools.base import tool_spec

    try:
        for kind in ("hermes", "gemma4"):
            tool_call_grammar([tool_spec(tool)], kind)  # type: ignore[arg-type]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        return str(exc) or type(exc).__name__
    return None
