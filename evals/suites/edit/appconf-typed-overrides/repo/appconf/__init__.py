from .errors import ConfigError
from .settings import load_settings

__all__ = ["ConfigError", "load_settings"]
