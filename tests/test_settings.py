"""Settings: precedence CLI > env > ini > default, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmserver.client import ServerRecord, select_model
from pytest_llmserver.settings import ServerSpec, Settings, SettingsError, parse_server_spec


def test_precedence() -> None:
    cli = {"server": None, "model": "cli-model", "timeout": None}
    env = {"LLM_SERVER": "sim", "LLM_MODEL": "env-model", "LLM_TIMEOUT": "7"}
    ini = {"server": "local", "logs": "out", "api": "ollama", "timeout": "9"}
    s = Settings.resolve(cli, env, ini)
    assert s.server == ServerSpec("sim")
    assert s.model == "cli-model"
    assert s.timeout_s == 7.0
    assert s.api == "ollama"
    assert s.logs_dir == Path("out")
    assert s.concurrency == 4


def test_api_key_from_env_is_not_shown() -> None:
    s = Settings.resolve({}, {"LLM_API_KEY": "sk-secret"}, {})
    assert s.api_key == "sk-secret"
    assert "sk-secret" not in repr(s)
    assert "sk-secret" not in str(s.public_dict())


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://api.example.test/v1/", "https://api.example.test/v1"),
        ("localhost:11434", "http://localhost:11434"),
        ("[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_server_urls(raw: str, url: str) -> None:
    assert parse_server_spec(raw) == ServerSpec("url", url)


@pytest.mark.parametrize(
    "raw", ["not a url", "ftp://x:1", "localhost", "host:99999", "http://", "h:1/x"]
)
def test_bad_server(raw: str) -> None:
    with pytest.raises(
        SettingsError, match=r"--llm-server: .* is not auto, a URL, HOST:PORT, sim or local"
    ):
        parse_server_spec(raw)


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"api": "grpc"}, "--llm-api: 'grpc' is not one of auto, openai, ollama"),
        ({"timeout": "soon"}, "--llm-timeout: 'soon' is not a positive number of seconds"),
        ({"timeout": "-1"}, "--llm-timeout: '-1' is not a positive number"),
        ({"concurrency": "0"}, "--llm-concurrency: '0' is not a whole number >= 1"),
        ({"scan_subnet": "300.1.1.0/24"}, "--llm-scan-subnet: '300.1.1.0/24' is not a CIDR"),
        ({"scan_ports": "80,x"}, "--llm-scan-ports: 'x' is not a port or range"),
        ({"scan_ports": "9-3"}, r"--llm-scan-ports: '9-3' is out of range"),
        ({"scan_max_hosts": "0"}, "--llm-scan-max-hosts: '0' is not a whole number >= 1"),
    ],
)
def test_bad_values(cli: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.resolve(cli, {}, {})


def test_discovery_options_from_cli_env_and_ini() -> None:
    s = Settings.resolve(
        {"server": "auto", "scan_subnet": "127.0.0.0/28,127.0.1.0/30", "no_cache": "true"},
        {"LLM_SCAN_PORTS": "8000,9000-9002", "LLM_SCAN_LOOPBACK_ONLY": "1"},
        {"cache_dir": "/tmp/c"},
    )
    assert s.server == ServerSpec("auto")
    assert s.scan_subnets == ("127.0.0.0/28", "127.0.1.0/30")
    assert s.scan_ports == (8000, 9000, 9001, 9002)
    assert s.no_cache
    assert s.scan_loopback_only
    assert not s.list_servers
    assert s.cache_dir == Path("/tmp/c")
    assert Settings.resolve({"model": "all"}, {}, {}).model == "all"
    with pytest.raises(SettingsError, match="LLM_NO_CACHE: 'maybe' is not a yes/no value"):
        Settings.resolve({}, {"LLM_NO_CACHE": "maybe"}, {})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="environment variable LLM_API: 'x'"):
        Settings.resolve({}, {"LLM_API": "x"}, {})


def test_select_model() -> None:
    record = ServerRecord(url="http://h:1", models=["qwen3:8b", "qwen3:32b", "llama3.2:3b"])
    assert select_model(record, None) == "qwen3:8b"
    assert select_model(record, "llama") == "llama3.2:3b"
    assert select_model(record, "qwen3:32b") == "qwen3:32b"
    with pytest.raises(Exception, match="matches several models"):
        select_model(record, "qwen3")
    with pytest.raises(Exception, match=r"model 'gpt' is not served by http://h:1 \(it serves: "):
        select_model(record, "gpt")


def test_server_record_bases() -> None:
    assert ServerRecord(url="http://h:8000/v1/").openai_base == "http://h:8000/v1"
    record = ServerRecord(url="http://h:8000")
    assert (record.openai_base, record.root, record.ip, record.port) == (
        "http://h:8000/v1",
        "http://h:8000",
        "h",
        8000,
    )
