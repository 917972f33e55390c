"""The one redaction policy: a run's own secrets, URL passwords and secret-looking tokens."""

from __future__ import annotations

from pytest_llmserver._util import Redactor, redact, redact_url, without_secrets
from pytest_llmserver.client import CANCELLED, ERROR_CLASSES, INTERNAL


def test_redactor_hides_the_key_and_url_passwords_everywhere() -> None:
    redactor = Redactor(
        ["sk-live-1234567890", None], urls=["http://bob:pw-42@127.0.0.1:8/v1", None]
    )
    basic = "Ym9iOnB3LTQy"  # base64 of "bob:pw-42", the Basic credentials sent for the URL
    assert redactor.secrets == ("sk-live-1234567890", basic, "pw-42")
    assert redactor.text(f"401: Basic {basic}") == "401: Basic [redacted]"
    assert redactor.text(f"echoed {basic}!") == "echoed [redacted]!"
    value = {
        "error": "HTTP 401 from http://127.0.0.1:8: bad key sk-live-1234567890",
        "url": "http://bob:pw-42@127.0.0.1:8/v1",
        "nested": [("pw-42", 3), {"pw-42": None}],
    }
    assert redactor.scrub(value) == {
        "error": "HTTP 401 from http://127.0.0.1:8: bad key [redacted]",
        "url": "http://bob:[redacted]@127.0.0.1:8/v1",
        "nested": [["[redacted]", 3], {"[redacted]": None}],
    }
    assert Redactor().text("nothing secret here") == "nothing secret here"


def test_a_percent_encoded_url_password_is_hidden_in_both_forms() -> None:
    redactor = Redactor(urls=["http://bob:p%40ss%3Aw0rd@127.0.0.1:8"])
    assert redactor.text("sent p@ss:w0rd and p%40ss%3Aw0rd") == "sent [redacted] and [redacted]"


def test_redaction_is_idempotent_and_stops_at_closing_brackets() -> None:
    once = redact("(api_key=abc) Authorization: Bearer sk-abcdefghijklmnop [x]")
    assert once == "(api_key=[redacted]) Authorization: [redacted] [redacted] [x]"
    assert redact(once) == once
    assert redact_url("http://u:p@h:1/x") == "http://u:[redacted]@h:1/x"
    assert redact_url("http://h:1/x") == "http://h:1/x"
    assert without_secrets({"api_key": "k", "keep": {"password": "p", "n": 1}}) == {
        "keep": {"n": 1}
    }


def test_every_failure_has_a_class_in_the_one_vocabulary() -> None:
    assert ERROR_CLASSES[-2:] == (CANCELLED, INTERNAL)
    assert len(set(ERROR_CLASSES)) == len(ERROR_CLASSES)
