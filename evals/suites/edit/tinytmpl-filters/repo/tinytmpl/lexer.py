import re

from .errors import TemplateError

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)


def tokenize(source):
    """Split a template into ("text", str) and ("var", expression) tokens."""
    tokens = []
    pos = 0
    for match in TAG.finditer(source):
        if match.start() > pos:
            tokens.append(("text", source[pos:match.start()]))
        expr = match.group(1).strip()
        if not expr:
            raise TemplateError(f"empty tag at offset {match.start()}")
        tokens.append(("var", expr))
        pos = match.end()
    rest = source[pos:]
    if "{{" in rest:
        raise TemplateError(f"unclosed tag at offset {pos + rest.index('{{')}")
    if rest:
        tokens.append(("text", rest))
    return tokens
