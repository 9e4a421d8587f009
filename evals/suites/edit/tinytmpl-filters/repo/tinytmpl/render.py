from .errors import TemplateError
from .lexer import tokenize


def lookup(context, path):
    """Resolve a dotted name such as 'user.name' against dicts and attributes."""
    value = context
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif not isinstance(value, dict) and hasattr(value, part):
            value = getattr(value, part)
        else:
            raise TemplateError(f"undefined variable: {path}")
    return value


def render(source, context):
    out = []
    for kind, value in tokenize(source):
        if kind == "text":
            out.append(value)
        else:
            out.append(str(lookup(context, value)))
    return "".join(out)
