from .defaults import DEFAULTS

PREFIX = "MYAPP_"


def env_name(key):
    """'server.port' -> 'MYAPP_SERVER_PORT'."""
    return PREFIX + key.upper().replace(".", "_")


def load_env(environ):
    """{setting: value} for every setting overridden in `environ`."""
    return {key: environ[env_name(key)] for key in DEFAULTS if env_name(key) in environ}
