import configparser

from .defaults import DEFAULTS
from .errors import ConfigError


TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


def coerce(key, raw):
    """Convert the text `raw` to the type of the default of `key`."""
    kind = type(DEFAULTS[key])
    if kind is bool:
        word = raw.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise ConfigError(f"{key}: expected a boolean, got {raw!r}")
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
