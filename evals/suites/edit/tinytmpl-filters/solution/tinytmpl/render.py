from .errors import TemplateError
from .filters import MISSING, apply_filter, parse_filter
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


def evaluate(context, expr):
    """'name|lower|title' -> the variable's value with the filters applied."""
    name, *specs = [part.strip() for part in expr.split("|")]
    filters = [parse_filter(spec) for spec in specs]
    try:
        value = lookup(context, name)
    except TemplateError:
        if not any(f == "default" for f, _ in filters):
            raise
        value = MISSING
    for f, arg in filters:
        value = apply_filter(f, arg, value)
    if value is MISSING:
        raise TemplateError(f"undefined variable: {name}")
    return value


def render(source, context):
    out = []
    for kind, value in tokenize(source):
        if kind == "text":
            out.append(value)
        else:
            out.append(str(evaluate(context, value)))
    return "".join(out)
