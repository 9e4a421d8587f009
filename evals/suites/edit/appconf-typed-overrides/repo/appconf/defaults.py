DEFAULTS = {
    "server.host": "127.0.0.1",
    "server.port": 8000,
    "server.workers": 2,
    "core.debug": False,
    "log.level": "info",
    "cache.ttl": 1.5,
}
