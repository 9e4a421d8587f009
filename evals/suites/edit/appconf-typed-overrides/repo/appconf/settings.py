import os

from .defaults import DEFAULTS
from .env import load_env
from .loader import load_file


def load_settings(path=None, environ=None):
    """Defaults, then the ini file at `path` (if any), then the environment."""
    settings = dict(DEFAULTS)
    if path is not None:
        settings.update(load_file(path))
    settings.update(load_env(os.environ if environ is None else environ))
    return settings
