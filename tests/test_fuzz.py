"""Generated inputs for the readers of model output, the chat templates, the grammar builder
and the shell safety rules.

The strategies and checks are those of `python -m evals.bench.fuzz` (they live in
`evals.bench.fuzz_outputs` and `evals.bench.fuzz_rules`), which runs each with thousands of
inputs; here each runs on a few dozen, derandomized so that CI is repeatable. Inputs that
once broke a check stay as explicit examples.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evals.bench import fuzz_outputs as outputs
from evals.bench import fuzz_rules as rules
from gemma_code.agent.protocols import ToolSpec

FEW = settings(max_examples=40, derandomize=True, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# A model caught in a loop: thousands of open brackets once exhausted the JSON decoder's stack
# (deep enough to do so under hypothesis, which raises the recursion limit).
LOOPING_CALL = "<tool_call>" + "[" * 5000
NATIVE_LOOP = "<|tool_call>call:x{a:" + "[" * 5000
# Quotes in substitutions in quotes: the shell reader once recursed until Python gave up.
NESTED_QUOTES = '"$(' * 5000
# Bounds no string meets: llama.cpp once ran out of memory expanding `{5,2}`.
CROSSED_BOUNDS = ToolSpec("write_file", "", {
    "type": "object", "properties": {"text": {"type": "string", "minLength": 5, "maxLength": 2}}})


@FEW
@example(case=(("hermes", None, False), LOOPING_CALL, ["<tool_call>[[", LOOPING_CALL[13:]]))
@example(case=(("gemma4", None, False), NATIVE_LOOP, [NATIVE_LOOP[:16], NATIVE_LOOP[16:]]))
@given(outputs.split_outputs())
def test_any_split_of_an_output_reads_like_the_whole(case: tuple) -> None:
    outputs.check_stream_split(*case)


@FEW
@given(outputs.marked_conversations())
def test_calls_in_each_formats_markup_stream_out_as_written(case: tuple) -> None:
    outputs.check_stream_reads_marked_calls(*case)


@FEW
@example(case=("[]", None))  # an empty list once read as no call at all, with no error
@example(case=("[" * 5000, None))
@example(case=('{"name": "grep", "arguments": ' + '{"a": ' * 5000, outputs.TOOLS))
@example(case=("call:grep{a:" + "[" * 5000, None))
@given(outputs.reader_inputs)
def test_call_readers_return_calls_or_none_on_any_text(case: tuple) -> None:
    outputs.check_readers(*case)


@FEW
@given(outputs.names, outputs.native_arguments)
def test_native_calls_read_back_as_written(name: str, arguments: dict) -> None:
    outputs.check_native_round_trip(name, arguments)


@FEW
@given(outputs.names, outputs.arguments)
def test_json_calls_read_back_as_written(name: str, arguments: dict) -> None:
    outputs.check_json_round_trip(name, arguments)


@FEW
@given(outputs.conversations())
def test_shipped_chat_templates_render_any_conversation(case: tuple) -> None:
    outputs.check_template_renders(*case)


@FEW
@example(case=(([CROSSED_BOUNDS], True), "hermes", True, False))
@given(rules.grammar_inputs)
def test_schemas_give_grammars_llama_cpp_accepts_or_a_value_error_when_flawed(case: tuple) -> None:
    rules.check_grammar(*case)


@FEW
@example(command=NESTED_QUOTES)
@given(rules.commands)
def test_the_shell_reader_raises_only_parse_errors(command: str) -> None:
    rules.check_shell_syntax(command)


@FEW
@example(command=NESTED_QUOTES, confined=True)
@given(rules.commands, st.booleans())
def test_command_rules_answer_a_reason_or_none(command: str, confined: bool) -> None:
    rules.check_command_rules(command, confined)
