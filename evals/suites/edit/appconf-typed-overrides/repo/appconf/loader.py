import configparser

from .defaults import DEFAULTS
from .errors import ConfigError


def coerce(key, raw):
    """Convert the text `raw` to the type of the default of `key`."""
    kind = type(DEFAULTS[key])
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{key}: expected {kind.__name__}, got {raw!r}") from None


def load_file(path):
    """{setting: value} for everything set in the ini file at `path`."""
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as fh:
        parser.read_file(fh)
    values = {}
    for section in parser.sections():
        for name, raw in parser.items(section):
            key = f"{section}.{name}"
            if key not in DEFAULTS:
                raise ConfigError(f"unknown setting: {key}")
            values[key] = coerce(key, raw)
    return values
