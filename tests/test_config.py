"""Settings: one object, wrong values stop startup with the variable named and an example."""

import pytest

from steward.core.config import ConfigError, load_settings


def test_defaults_are_the_embedded_stack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("DATABASE_URL", "QDRANT_URL", "REDIS_URL", "LLM_BASE_URL", "EMBEDDINGS_BASE_URL", "STEWARD_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.embedded_database and settings.steward_port == 8090
    assert settings.embedding_provider == "local" and settings.embedding_dimension == 384
    assert not settings.llm_configured


@pytest.mark.parametrize(
    ("name", "value", "example"),
    [
        ("STEWARD_PORT", "eighty", "STEWARD_PORT=8090"),
        ("STEWARD_PORT", "70000", "STEWARD_PORT=8090"),
        ("STEWARD_SERVICES", "memory,nonsense", "STEWARD_SERVICES=memory,planner"),
        ("STEWARD_LOG_LEVEL", "LOUD", "STEWARD_LOG_LEVEL=INFO"),
    ],
)
def test_a_wrong_value_names_the_variable_and_an_example(monkeypatch, tmp_path, name, value, example):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in str(err.value) and example in str(err.value)


def test_secrets_never_print(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret-value")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/steward")
    settings = load_settings()
    assert "sk-very-secret-value" not in repr(settings) and "hunter2" not in repr(settings)
    assert settings.llm_api_key.get_secret_value() == "sk-very-secret-value"


def test_dotenv_is_read_and_environment_wins(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("STEWARD_PORT=9001\nSTEWARD_HOST=0.0.0.0\n")
    monkeypatch.setenv("STEWARD_PORT", "9002")
    monkeypatch.delenv("STEWARD_HOST", raising=False)
    settings = load_settings()
    assert settings.steward_port == 9002 and settings.steward_host == "0.0.0.0"


def test_services_selects_blueprints(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEWARD_SERVICES", "events")
    assert load_settings().services == ("events",)
