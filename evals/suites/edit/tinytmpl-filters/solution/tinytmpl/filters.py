from .errors import TemplateError

MISSING = object()


def _text(value):
    return "" if value is MISSING else str(value)


def _default(value, arg):
    if value is MISSING or value == "":
        return arg
    return value


FILTERS = {
    "upper": lambda value, arg: _text(value).upper(),
    "lower": lambda value, arg: _text(value).lower(),
    "title": lambda value, arg: _text(value).title(),
    "default": _default,
}


def parse_filter(spec):
    """'default:"x"' -> ('default', 'x'); 'upper' -> ('upper', None)."""
    name, sep, arg = spec.partition(":")
    name = name.strip()
    if name not in FILTERS:
        raise TemplateError(f"unknown filter: {name!r}")
    if not sep:
        return name, None
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        arg = arg[1:-1]
    return name, arg


def apply_filter(name, arg, value):
    return FILTERS[name](value, arg)
