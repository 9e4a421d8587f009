import pytest

from appconf import ConfigError, load_settings


def ini(tmp_path, text):
    path = tmp_path / "app.ini"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("word, expected", [
    ("false", False), ("False", False), ("no", False), ("OFF", False), ("0", False),
    ("true", True), ("TRUE", True), ("yes", True), ("On", True), ("1", True),
])
def test_bool_from_file(tmp_path, word, expected):
    settings = load_settings(ini(tmp_path, f"[core]\ndebug = {word}\n"), environ={})
    assert settings["core.debug"] is expected


@pytest.mark.parametrize("word, expected", [
    ("false", False), ("No", False), ("off", False), ("0", False),
    ("true", True), ("YES", True), ("on", True), ("1", True),
])
def test_bool_from_env(word, expected):
    settings = load_settings(environ={"MYAPP_CORE_DEBUG": word})
    assert settings["core.debug"] is expected


def test_env_overrides_file_with_types(tmp_path):
    path = ini(tmp_path, "[server]\nport = 8080\nworkers = 4\n[core]\ndebug = true\n")
    settings = load_settings(path, environ={"MYAPP_SERVER_PORT": "9000", "MYAPP_CORE_DEBUG": "false",
                                            "MYAPP_CACHE_TTL": "2.5", "MYAPP_SERVER_HOST": "10.0.0.1"})
    assert settings["server.port"] == 9000 and type(settings["server.port"]) is int
    assert settings["server.workers"] == 4
    assert settings["core.debug"] is False
    assert settings["cache.ttl"] == 2.5 and type(settings["cache.ttl"]) is float
    assert settings["server.host"] == "10.0.0.1"


def test_file_types(tmp_path):
    settings = load_settings(ini(tmp_path, "[server]\nport = 8080\n[cache]\nttl = 0.25\n"), environ={})
    assert settings["server.port"] == 8080 and type(settings["server.port"]) is int
    assert settings["cache.ttl"] == 0.25


@pytest.mark.parametrize("word", ["maybe", "", "2", "falsey"])
def test_bad_bool_in_file(tmp_path, word):
    with pytest.raises(ConfigError):
        load_settings(ini(tmp_path, f"[core]\ndebug = {word}\n"), environ={})


@pytest.mark.parametrize("word", ["maybe", "2"])
def test_bad_bool_in_env(word):
    with pytest.raises(ConfigError):
        load_settings(environ={"MYAPP_CORE_DEBUG": word})


def test_bad_number_in_env():
    with pytest.raises(ConfigError):
        load_settings(environ={"MYAPP_SERVER_PORT": "eighty"})


def test_bad_number_in_file(tmp_path):
    with pytest.raises(ConfigError):
        load_settings(ini(tmp_path, "[server]\nport = eighty\n"), environ={})


def test_untouched_defaults():
    settings = load_settings(environ={"UNRELATED": "1"})
    assert settings["server.port"] == 8000
    assert settings["core.debug"] is False
    assert settings["log.level"] == "info"
