"""What every tool shares: its spec for the model, generated from its pydantic `Args`."""

from __future__ import annotations

from typing import Any

from gemma_code.agent.protocols import Tool, ToolSpec


def _drop_titles(node: Any) -> Any:
    # pydantic adds a "title" to every field; they only cost prompt tokens.
    if isinstance(node, dict):
        return {
            key: _drop_titles(value)
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_drop_titles(item) for item in node]
    return node


def tool_spec(tool: Tool) -> ToolSpec:
    """The name, description and JSON schema the model is shown for `tool`."""
    schema = _drop_titles(tool.Args.model_json_schema())
    return ToolSpec(name=tool.name, description=tool.description, parameters=schema)
