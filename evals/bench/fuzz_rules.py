"""Generated JSON schemas and shell command lines, and the properties the grammar builder and
the shell safety rules must keep (see `evals.bench.fuzz`, which runs them; tests/test_fuzz.py
runs them with few inputs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from evals.bench.fuzz_outputs import FORMATS, gemma4_vocab, names, repeated
from gemma_code.agent.protocols import ToolSpec
from gemma_code.agent.safety.checker import dangerous_command
from gemma_code.agent.safety.shell_syntax import Lexer, ParseError, parse
from gemma_code.backends.grammar import compile_grammar, json_call_rest_grammar, tool_call_grammar

SHELL_PIECES = (
    "rm", "-rf", "-f", "~", "/", "~/", "$HOME", "$PWD", "..", "build", "git", "push", "--force",
    "reset", "--hard", "clean", "-fdx", "bash", "sh", "-c", "python", "-m", "curl", "wget",
    "sudo", "env", "timeout", "xargs", "find", "-delete", "-exec", "{}", "\\;", "+", "cd", "dd",
    "of=/dev/sda", "mkfs", "chmod", "-R", "777", "tee", "cp", "mv", "ln", "-s", "sed", "-i",
    "eval", "source", "base64", "-d", "$(", "`", ")", "(", "{", "}", "<<EOF", "<<'EOF'", "EOF",
    "<<<", "<(", ">(", "|", "||", "&&", ";", ";;", "&", ">", ">>", "2>&1", "&>", "<", "\n", "#",
    "'", '"', "\\", "$", "${", "$((", "*", "?", "[", "]", "=", "X=1", "!", " ", " ", " ",
)
PROGRAMS = ("rm", "git", "bash -c", "sh -c", "python -c", "curl", "sudo", "env", "timeout 5",
            "xargs", "find", "cd", "dd", "chmod", "cp", "mv", "ln -s", "sed -i", "eval", "source",
            "tee", "mkfs", "kill", "crontab", "shutdown", "ls", "echo", "cat", "pytest", "make")
ARGUMENTS = ("-rf", "-f", "~", "/", "~/.ssh", "$HOME", "$PWD/build", "..", "../..", "build",
             "/etc/passwd", "/tmp/x", "push", "--force", "origin", "main", "reset", "--hard",
             "clean", "-fdx", "-exec", "rm", "{}", "+", "-delete", "of=/dev/sda", "-R", "777",
             "$(pwd)", "$X", "*", "'rm -rf ~'", '"$HOME"', "-9", "-1", "now", ">", "out.txt", "2>&1")
SHELL_OPENERS = ('"', "$(", "`", "${", "<(", "(", "'", "\\", "bash -c '", "{", "\n")


# JSON schemas to grammars -----------------------------------------------------------------

property_names = st.text(max_size=10) | st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
schema_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)


@st.composite
def string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    low = draw(st.none() | st.integers(0, 8))
    high = draw(st.none() | st.integers(low or 0, 40))
    schema |= {k: v for k, v in (("minLength", low), ("maxLength", high)) if v is not None}
    if draw(st.booleans()):
        schema["pattern"] = draw(st.sampled_from([r"^[a-z]+$", r"\d{3}", ".*", r"^(a|b)*$"]))
    if draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(["path", "uri", "date-time", "email"]))
    return schema


leaf_schemas = st.one_of(
    st.just({}),
    string_schemas(),
    st.fixed_dictionaries({"type": st.sampled_from(["integer", "number"])},
                          optional={"minimum": st.integers(), "maximum": st.integers()}),
    st.sampled_from([{"type": "boolean"}, {"type": "null"}]),
    st.fixed_dictionaries({"enum": st.lists(schema_scalars, min_size=1, max_size=4)}),
    st.fixed_dictionaries({"const": schema_scalars}),
    st.fixed_dictionaries({"$ref": st.just("#/$defs/Item")}),
)


def object_schemas(inner: st.SearchStrategy) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(property_names, inner, max_size=4))
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if props and draw(st.booleans()):
            schema["required"] = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
        extra = draw(st.none() | st.booleans() | inner)
        if extra is not None:
            schema["additionalProperties"] = extra
        if draw(st.booleans()):
            schema["description"] = draw(st.text(max_size=10))
        return schema

    return build()


def compound_schemas(inner: st.SearchStrategy) -> st.SearchStrategy[dict[str, Any]]:
    types = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])
    return st.one_of(
        object_schemas(inner),
        st.fixed_dictionaries({"type": st.just("array"), "items": inner},
                              optional={"minItems": st.integers(0, 3), "maxItems": st.integers(3, 6)}),
        st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"oneOf": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"allOf": st.lists(object_schemas(inner), min_size=1, max_size=2)}),
        st.fixed_dictionaries({"type": st.lists(types, min_size=1, max_size=3, unique=True)}),
        inner.map(lambda schema: {**schema, "nullable": True}),
    )


schemas = st.recursive(leaf_schemas, compound_schemas, max_leaves=8)


# Schemas no string or no grammar can follow: the builder must refuse them with a ValueError.
FLAWED_SCHEMAS = (
    {"type": "string", "minLength": 5, "maxLength": 2},
    {"type": "string", "maxLength": -1},
    {"$ref": "#/$defs/Missing"},
    {"$ref": "https://example.com/schema.json"},
    {"anyOf": []},
    {"oneOf": None},
    {"allOf": [{"$ref": "#/$defs/Loop"}]},
)


@st.composite
def tool_specs(draw: st.DrawFn) -> tuple[list[ToolSpec], bool]:
    """(tools whose argument schemas are generated objects, whether one has a flawed
    property); `$ref`s point into `$defs`."""
    specs, flawed = [], False
    for name in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        params = draw(object_schemas(schemas))
        params["$defs"] = {"Item": draw(schemas.filter(lambda s: "$ref" not in json.dumps(s))),
                           "Loop": {"$ref": "#/$defs/Loop"}}
        if draw(st.integers(0, 9)) == 0:
            params["properties"]["flawed"] = draw(st.sampled_from(FLAWED_SCHEMAS))
            flawed = True
        specs.append(ToolSpec(name, draw(st.text(max_size=10)), params))
    return specs, flawed


grammar_inputs = st.tuples(tool_specs(), st.sampled_from(FORMATS), st.booleans(), st.booleans())


def check_grammar(specs_flawed: tuple[list[ToolSpec], bool], fmt: str, include_open_marker: bool,
                  marker_tokens: bool) -> None:
    """Valid schemas give a grammar with a root rule, which llama.cpp accepts; flawed ones
    a ValueError."""
    specs, flawed = specs_flawed
    try:
        gbnf = tool_call_grammar(specs, fmt, include_open_marker=include_open_marker,
                                 marker_tokens=marker_tokens)
    except ValueError:
        assert flawed, "a valid schema was refused"
        return
    assert not flawed, "a flawed schema gave a grammar"
    assert gbnf.startswith("root ::= ")
    _compiles(gbnf)
    opened = '{"name": "' + specs[0].name[:1]
    rest = json_call_rest_grammar(specs, opened, fence=include_open_marker)
    assert rest is not None and rest.startswith("root ::= ")
    _compiles(rest)


def _compiles(gbnf: str) -> None:
    llm = gemma4_vocab()
    if llm is not None:
        compile_grammar(llm, gbnf)  # raises ValueError when llama.cpp rejects the grammar


# Shell commands ---------------------------------------------------------------------------

HOME = Path("/home/dev")
ROOT = HOME / "project"
simple_commands = st.builds(lambda program, args: " ".join([program, *args]),
                            st.sampled_from(PROGRAMS), st.lists(st.sampled_from(ARGUMENTS), max_size=4))
command_lines = st.builds(
    lambda first, rest: first + "".join(op + command for op, command in rest), simple_commands,
    st.lists(st.tuples(st.sampled_from([" && ", "; ", " | ", " || ", "\n", " & "]), simple_commands),
             max_size=2))
commands = st.one_of(
    command_lines,
    st.text(max_size=40),
    st.lists(st.sampled_from(SHELL_PIECES) | st.text(max_size=4), max_size=12).map(" ".join),
    st.lists(st.sampled_from(SHELL_PIECES), max_size=12).map("".join),
    repeated(st.sampled_from(SHELL_OPENERS), 5000),
)


PLAIN_WORDS = re.compile(r"[A-Za-z0-9_./=+:,-]+(?: +[A-Za-z0-9_./=+:,-]+)* *")


def check_shell_syntax(command: str) -> None:
    """The shell reader gives pipelines of commands or a ParseError, nothing else; a line of
    plain words splits at its blanks."""
    try:
        tokens = Lexer(command, str(HOME)).tokens()
        items = parse(tokens)
    except ParseError:
        return
    for item in items:
        assert item in ("(", ")") or all(c.words or c.redirects for c in item) and item
    if PLAIN_WORDS.fullmatch(command.lstrip(" ")):
        assert [t.text for t in tokens] == command.split()


def check_command_rules(command: str, confined: bool) -> None:
    """The checker answers None or a reason, and a flagged command stays flagged after `true &&`."""
    reason = dangerous_command(command, ROOT, home=HOME, confined=confined)
    assert reason is None or (isinstance(reason, str) and reason)
    if reason is not None and "\n" not in command:
        assert dangerous_command(f"true && {command}", ROOT, home=HOME, confined=confined)
