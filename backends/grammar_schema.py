"""JSON schema to GBNF, in two dialects: JSON and Gemma 4's native call syntax.

The native dialect writes keys bare and in sorted order (as Gemma 4's chat template
renders calls) and strings between `q` tokens (the grammar defines rule `q` as `<|"|>`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_COMMON = {
    "int": '"-"? ( "0" | [1-9] [0-9]{0,15} )',
    "num": 'int ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?',
    "bool": '"true" | "false"',
    "null": '"null"',
}

_JSON_RULES = {
    **_COMMON,
    "ws": '" "?',
    "jchar": r'[^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )',
    "jstr": r'"\"" jchar* "\""',
    "jvalue": "jobject | jarray | jstr | num | bool | null",
    "jobject": '"{" ws ( jstr ":" ws jvalue ( "," ws jstr ":" ws jvalue )* )? "}"',
    "jarray": '"[" ws ( jvalue ( "," ws jvalue )* )? "]"',
}

# Text between <|"|> delimiters, never containing <|"|> itself: states g0..g4 count how
# much of the delimiter the text ends with. Right recursion keeps llama.cpp's stacks flat.
_GEMMA4_RULES = {
    **_COMMON,
    "g0": '( [^<] g0 | "<" g1 )?',
    "g1": '( [^<|] g0 | "<" g1 | "|" g2 )?',
    "g2": '( [^<"] g0 | "<" g1 | "\\"" g3 )?',
    "g3": '( [^<|] g0 | "<" g1 | "|" g4 )?',
    "g4": '( [^<>] g0 | "<" g1 )?',
    "gstr": "q g0 q",
    "gunit": '[^<] | "<" [^|<]',  # length-bounded strings: no "<|" at all, simpler to count
    "gkey": "[A-Za-z_] [A-Za-z0-9_]*",
    "gvalue": "gobject | garray | gstr | num | bool | null",
    "gobject": '"{" ( gkey ":" gvalue ( "," gkey ":" gvalue )* )? "}"',
    "garray": '"[" ( gvalue ( "," gvalue )* )? "]"',
}

_TYPES = {"integer": "int", "number": "num", "boolean": "bool", "null": "null"}
_LITERAL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def literal(text: str) -> str:
    """`text` as a quoted GBNF literal."""
    out = []
    for char in text:
        if char in _LITERAL_ESCAPES:
            out.append(_LITERAL_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\x{ord(char):02X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class Dialect:
    """How values are spelled: rule names of the building blocks and separators."""

    rules: dict[str, str]
    string: str
    any_value: str
    any_object: str
    any_key: str  # a free key with its colon
    comma: str
    open_ws: str  # after "{" and "["
    sorted_keys: bool
    native: bool

    def key(self, name: str) -> str:
        if self.native:
            return literal(name + ":")
        return literal(json.dumps(name, ensure_ascii=False) + ":") + " ws"  # quotes escaped

    def constant(self, value: Any) -> str:
        if not self.native:
            return literal(json.dumps(value, ensure_ascii=False))
        if isinstance(value, str):
            return f"q {literal(value)} q" if value else "q q"
        if value is None or isinstance(value, (bool, int, float)):
            return literal(json.dumps(value))
        return self.any_value


JSON = Dialect(_JSON_RULES, "jstr", "jvalue", "jobject", 'jstr ":" ws', '"," ws', "ws",
               sorted_keys=False, native=False)
GEMMA4 = Dialect(_GEMMA4_RULES, "gstr", "gvalue", "gobject", 'gkey ":"', '","', "",
                 sorted_keys=True, native=True)


@dataclass
class Rules:
    """Named GBNF rules; `add` keeps names unique."""

    rules: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, body: str) -> str:
        base = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "r"
        key, n = base, 1
        while key in self.rules and self.rules[key] != body:
            n += 1
            key = f"{base}-{n}"
        self.rules[key] = body
        return key

    def render(self) -> str:
        root = [f"root ::= {self.rules['root']}"] if "root" in self.rules else []
        rest = [f"{k} ::= {v}" for k, v in self.rules.items() if k != "root"]
        return "\n".join(root + rest) + "\n"


def _merge_all_of(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
        for key, value in part.items():
            merged.setdefault(key, value)
    return merged


class SchemaConverter:
    """Turns the JSON schemas of tool arguments into rules of one dialect."""

    def __init__(self, dialect: Dialect, rules: Rules) -> None:
        self.d, self.rules = dialect, rules
        for name, body in dialect.rules.items():
            rules.add(name, body)
        self._schema: dict[str, Any] = {}
        self._refs: dict[str, str] = {}

    def root(self, schema: dict[str, Any], name: str) -> str:
        """The rule for a whole tool-arguments schema (its `$defs` resolve against it)."""
        self._schema, self._refs = schema, {}
        return self.visit(schema, name)

    def visit(self, schema: Any, hint: str) -> str:
        """A GBNF expression (a rule name) matching the values `schema` allows."""
        if not isinstance(schema, dict) or not schema:
            return self.d.any_value
        if "$ref" in schema:
            return self._ref(schema["$ref"], hint)
        if "anyOf" in schema or "oneOf" in schema:
            options = schema.get("anyOf") or schema.get("oneOf")
            if not isinstance(options, list) or not options:
                raise ValueError("anyOf and oneOf need a non-empty list of schemas")
            return self._union([self.visit(s, f"{hint}-{i}") for i, s in enumerate(options)], hint)
        if "allOf" in schema:
            parts = [self._resolve(s) for s in schema["allOf"]]
            return self.visit(parts[0] if len(parts) == 1 else _merge_all_of(parts), hint)
        if "const" in schema or "enum" in schema:
            values = [schema["const"]] if "const" in schema else schema["enum"]
            return self.rules.add(hint, " | ".join(self.d.constant(v) for v in values))
        kind = schema.get("type")
        if isinstance(kind, list) or schema.get("nullable"):
            return self._kinds(schema, hint)
        return self._typed(schema, kind, hint)

    def _kinds(self, schema: dict[str, Any], hint: str) -> str:
        """`type: [...]` lists and OpenAPI's `nullable: true`."""
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if schema.get("nullable"):
            kinds = [*kinds, "null"]
        rest = {k: v for k, v in schema.items() if k not in ("type", "nullable")}
        return self._union([self.visit({**rest, "type": k}, f"{hint}-{k}") for k in kinds], hint)

    def _typed(self, schema: dict[str, Any], kind: Any, hint: str) -> str:
        if kind == "object" or "properties" in schema:
            return self._object(schema, hint)
        if kind == "array" or "items" in schema:
            return self._array(schema, hint)
        if kind == "string":
            return self._string(schema, hint)
        return _TYPES.get(kind, self.d.any_value)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = set()
        while "$ref" in schema:
            if schema["$ref"] in seen:
                raise ValueError(f"$ref {schema['$ref']!r} refers to itself")
            seen.add(schema["$ref"])
            schema = self._target(schema["$ref"])
        return schema

    def _target(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise ValueError(f"only local $refs are supported, not {ref!r}")
        node: Any = self._schema
        try:
            for part in filter(None, ref[1:].split("/")):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        except (KeyError, TypeError):
            raise ValueError(f"$ref {ref!r} points to no schema") from None
        return node

    def _ref(self, ref: str, hint: str) -> str:
        if ref not in self._refs:
            name = self.rules.add(f"ref-{hint}-{ref.rsplit('/', 1)[-1]}", "PENDING")
            self._refs[ref] = name  # before visiting: recursive models refer to themselves
            self.rules.rules[name] = self.visit(self._target(ref), name)
        return self._refs[ref]

    def _union(self, options: list[str], hint: str) -> str:
        unique = list(dict.fromkeys(options))
        return unique[0] if len(unique) == 1 else self.rules.add(hint, " | ".join(unique))

    def _string(self, schema: dict[str, Any], hint: str) -> str:
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is None and high is None:
            return self.d.string
        counts = all(isinstance(b, int) and b >= 0 for b in (low, high) if b is not None)
        if not counts or (high is not None and high < (low or 0)):
            # llama.cpp takes `{5,2}` and runs out of memory expanding it
            raise ValueError(f"string length bounds {low}..{high} allow no string")
        bounds = f"{{{low or 0},{'' if high is None else high}}}"
        if self.d.native:
            return self.rules.add(hint, f"q gunit{bounds} q")
        return self.rules.add(hint, f'"\\"" jchar{bounds} "\\""')

    def _array(self, schema: dict[str, Any], hint: str) -> str:
        items = schema.get("items")
        item = self.visit(items if isinstance(items, dict) else {}, f"{hint}-item")
        more = f"{item} ( {self.d.comma} {item} )*"
        body = more if schema.get("minItems", 0) > 0 else f"( {more} )?"
        return self._braced(hint, "[", body, "]")

    def _object(self, schema: dict[str, Any], hint: str) -> str:
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and extra:
            value = self.visit(extra, f"{hint}-value")
            pair = f"{self.d.any_key} {value}"
            return self._braced(hint, "{", f"( {pair} ( {self.d.comma} {pair} )* )?", "}")
        if not props and "properties" not in schema and extra is not False:
            return self.d.any_object
        required = set(schema.get("required", []))
        names = sorted(props) if self.d.sorted_keys else list(props)
        members = [
            (f"{self.d.key(n)} {self.visit(props[n], f'{hint}-{n}')}", n in required) for n in names
        ]
        return self._braced(hint, "{", self._members(members, hint), "}")

    def _braced(self, hint: str, opener: str, body: str | None, closer: str) -> str:
        parts = (literal(opener), self.d.open_ws, body, literal(closer))
        return self.rules.add(hint, " ".join(p for p in parts if p))

    def _members(self, members: list[tuple[str, bool]], hint: str) -> str | None:
        """Rule for the properties in order, optional ones skippable, commas between.

        `rest` rules read the members from i on after one was written (each with a leading
        comma); `first` rules read them before any was written. Both stay linear in size.
        """
        rest: str | None = None
        first: str | None = None
        for i in range(len(members) - 1, -1, -1):
            pair, required = members[i]
            tail = f"{pair} {rest}" if rest else pair
            with_comma = f"{self.d.comma} {tail}"
            if required:
                rest_body, first_body = with_comma, tail
            else:
                rest_body = f"{with_comma} | {rest}" if rest else f"( {with_comma} )?"
                first_body = f"{tail} | {first}" if first else f"( {tail} )?"
            rest = self.rules.add(f"{hint}-rest{i}", rest_body)
            first = self.rules.add(f"{hint}-first{i}", first_body)
        return first
