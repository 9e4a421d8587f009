import pytest

from appconf import ConfigError, load_settings


def test_defaults():
    settings = load_settings(environ={})
    assert settings["server.port"] == 8000
    assert settings["core.debug"] is False


def test_file(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[server]\nport = 8080\nhost = 0.0.0.0\n")
    settings = load_settings(ini, environ={})
    assert settings["server.port"] == 8080
    assert settings["server.host"] == "0.0.0.0"


def test_env_string_setting():
    assert load_settings(environ={"MYAPP_LOG_LEVEL": "debug"})["log.level"] == "debug"


def test_unknown_setting(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[server]\nprot = 8080\n")
    with pytest.raises(ConfigError):
        load_settings(ini, environ={})
