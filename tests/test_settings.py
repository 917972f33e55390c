"""Settings: precedence CLI > env > ini > default, and one clear error per bad value."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from pytest_llmserver.client import ServerRecord, select_model
from pytest_llmserver.options import OPTIONS, OptionSpec
from pytest_llmserver.settings import ServerSpec, Settings, SettingsError, parse_server_spec


def test_precedence() -> None:
    cli = {"server": None, "model": "cli-model", "timeout": None}
    env = {"LLM_SERVER": "sim", "LLM_MODEL": "env-model", "LLM_TIMEOUT": "7"}
    ini = {"server": "local", "logs": "out", "api": "ollama", "timeout": "9"}
    s = Settings.resolve(cli, env, ini)
    assert s.target.server == ServerSpec("sim")
    assert s.target.model == "cli-model"
    assert s.target.timeout_s == 7.0
    assert s.target.api == "ollama"
    assert s.run.logs == Path("out")
    assert s.run.concurrency == 4


def test_api_key_from_env_is_not_shown() -> None:
    s = Settings.resolve({}, {"LLM_API_KEY": "sk-secret"}, {})
    assert s.target.api_key == "sk-secret"
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
        ({"workers": "0"}, "--llm-workers: '0' is not auto or a whole number >= 1"),
        ({"workers": "many"}, "--llm-workers: 'many' is not auto or a whole number >= 1"),
        ({"meeting_host": "127.0.0.300"}, "--llm-meeting-host: '127.0.0.300' is not an IPv4"),
        ({"meeting_host": "::1"}, "--llm-meeting-host: '::1' is not an IPv4 address or a host"),
        ({"meeting_host": "bad host"}, "--llm-meeting-host: 'bad host' is not an IPv4"),
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
    assert s.target.server == ServerSpec("auto")
    scan = s.discovery
    assert scan.scan_subnet == ("127.0.0.0/28", "127.0.1.0/30")
    assert scan.scan_ports == (8000, 9000, 9001, 9002)
    assert scan.no_cache
    assert scan.scan_loopback_only
    assert not scan.list
    assert scan.cache_dir == Path("/tmp/c")
    assert Settings.resolve({"model": "all"}, {}, {}).target.model == "all"
    with pytest.raises(SettingsError, match="LLM_NO_CACHE: 'maybe' is not a yes/no value"):
        Settings.resolve({}, {"LLM_NO_CACHE": "maybe"}, {})


def test_meeting_host_takes_an_address_or_a_name() -> None:
    assert Settings.defaults().stress.meeting_host == "127.0.0.1"
    assert Settings.resolve({"meeting_host": " 127.0.0.2 "}, {}, {}).stress.meeting_host == (
        "127.0.0.2"
    )
    named = Settings.resolve({}, {"LLM_MEETING_HOST": "controller.example"}, {})
    assert named.stress.meeting_host == "controller.example"


def test_workers_from_cli_env_and_ini() -> None:
    assert Settings.defaults().stress.workers is None  # auto
    assert Settings.resolve({"workers": "2"}, {}, {}).stress.workers == 2
    assert Settings.resolve({}, {"LLM_WORKERS": "3"}, {"workers": "1"}).stress.workers == 3
    assert Settings.resolve({}, {}, {"workers": "AUTO"}).stress.workers is None
    with pytest.raises(SettingsError, match="ini option llm_workers: '-2' is not auto"):
        Settings.resolve({}, {}, {"workers": "-2"})


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


def test_each_option_is_one_field_of_its_group() -> None:
    """Every option is named once: its field is its name plus its unit, in its group, and
    every field of every group comes from an option."""
    defaults = Settings.defaults()
    by_group: dict[str, list[str]] = {}
    for spec in OPTIONS:
        by_group.setdefault(spec.group, []).append(spec.field)
    assert {f.name for f in fields(Settings)} == set(by_group)
    for group, names in by_group.items():
        assert [f.name for f in fields(getattr(defaults, group))] == names, group
    assert len({s.name for s in OPTIONS}) == len(OPTIONS)


def test_units_are_in_field_names() -> None:
    spec = OptionSpec("timeout", "target", "", lambda raw, _: raw, unit="s")
    assert (spec.flag, spec.ini, spec.env, spec.field) == (
        "--llm-timeout",
        "llm_timeout",
        "LLM_TIMEOUT",
        "timeout_s",
    )
    assert (
        OptionSpec("noise_floor_ms", "gate", "", lambda raw, _: raw, unit="ms").field
        == "noise_floor_ms"
    )
    defaults = Settings.defaults()
    assert defaults.target.timeout_s == 300.0
    assert defaults.stress.duration_s == 10.0
    assert defaults.gate.noise_floor_ms == 5.0


def test_public_dict_has_every_option_and_no_secret() -> None:
    s = Settings.resolve(
        {
            "server": "http://user:pw-123@127.0.0.1:9/v1",
            "api_key": "sk-abcdefghijkl",
            "server_metrics": "http://user:pw-123@127.0.0.1:9/metrics",
        },
        {},
        {},
    )
    public = s.public_dict()
    assert set(public) == {spec.field for spec in OPTIONS}
    assert public["server_metrics"] == ["auto", "http://user:[redacted]@127.0.0.1:9/metrics"]
    assert public["api_key"] == "set"
    assert "pw-123" not in str(public)
    assert "sk-abcdefghijkl" not in str(public)
    assert public["server"] == "http://user:[redacted]@127.0.0.1:9/v1"


def test_request_shape_options_from_cli_env_and_ini() -> None:
    cli = {"top_p": "0.9", "extra_body": '{"options": {"num_ctx": 2048}, "top_k": 5}'}
    s = Settings.resolve(cli, {"LLM_HEADER": "X-Team: bench\nX-Trace: a, b"}, {})
    assert s.run.top_p == 0.9
    assert s.run.extra_body == {"options": {"num_ctx": 2048}, "top_k": 5}
    assert s.target.header == {"X-Team": "bench", "X-Trace": "a, b"}
    ini = Settings.resolve({}, {}, {"header": "X-A:1,x-a:2", "top_p": "1"})
    assert (ini.target.header, ini.run.top_p) == ({"x-a": "2"}, 1.0)
    defaults = Settings.defaults()
    assert (defaults.run.top_p, defaults.run.extra_body, defaults.target.header) == (None, None, {})


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"top_p": "0"}, r"--llm-top-p: '0' is not a probability mass in \(0, 1\]"),
        ({"top_p": "1.01"}, r"--llm-top-p: '1.01' is not a probability mass"),
        ({"extra_body": "[1, 2]"}, r"^--llm-extra-body: not a JSON object \(got a list\)$"),
        ({"extra_body": "7"}, r"^--llm-extra-body: not a JSON object \(got a number\)$"),
        ({"extra_body": "{x"}, r"^--llm-extra-body: is not valid JSON: line 1 column 2 \("),
        ({"extra_body": '{"stream": false}'}, "--llm-extra-body: 'stream' is the client's to set"),
        ({"header": "X-A"}, r"^--llm-header: 'X-A' is not NAME:VALUE"),
        ({"header": "bad name: v"}, r"^--llm-header: 'bad name: v' is not NAME:VALUE"),
        ({"header": "Content-Length: 3"}, "^--llm-header: Content-Length is set by the client"),
        ({"header": "X-A: a\x00b"}, "^--llm-header: the value of X-A holds a control character"),
    ],
)
def test_bad_request_shape_values_are_one_line(cli: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.resolve(cli, {}, {})
    assert "\n" not in str(caught.value)


def test_secret_headers_and_extra_body_keys_are_shown_only_as_set() -> None:
    s = Settings.resolve(
        {
            "header": "Authorization: Bearer tok-777,X-Api-Key: hk-888,X-Team: bench",
            "extra_body": '{"metadata": {"access_token": "at-999"}, "top_k": 2}',
            "api_key": "sk-555",
        },
        {},
        {},
    )
    public = s.public_dict()
    assert public["header"] == {"Authorization": "set", "X-Api-Key": "set", "X-Team": "bench"}
    assert public["extra_body"] == {"metadata": {"access_token": "set"}, "top_k": 2}
    for secret in ("tok-777", "hk-888", "at-999", "sk-555"):
        assert secret not in str(public)
        assert secret not in repr(s)
    assert set(s.secrets()) == {"sk-555", "Bearer tok-777", "tok-777", "hk-888"}
