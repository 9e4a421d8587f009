class ConfigError(Exception):
    """A setting is unknown or has a value of the wrong kind."""
