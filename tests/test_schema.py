"""The shared config schema: defaults, normalisation, and one-line errors with secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpn_sms_notify.cliconfig import load
from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.schema import DEFAULTS, validate_config

BASE = {"client_id": "my-id", "client_secret": "TOPSECRET-123"}


def test_defaults_and_normalisation() -> None:
    config = validate_config(
        {**BASE, "sender": "KPNAlert", "recipients": ["0612345678", "+31687654321"]}
    )
    assert config["recipients"] == ["+31612345678", "+31687654321"]
    assert config["base_url"] == "https://api-prd.kpn.com"
    for key, value in DEFAULTS.items():
        assert config[key] == value


def test_recipients_mapping_and_comma_string() -> None:
    assert validate_config({**BASE, "recipients": {"alice": "0612345678"}})["recipients"] == {
        "alice": "+31612345678"
    }
    assert validate_config({**BASE, "recipients": "0612345678, 0687654321"})["recipients"] == [
        "+31612345678",
        "+31687654321",
    ]


def test_region_changes_national_numbers() -> None:
    config = validate_config({**BASE, "region": "be", "recipients": ["0470 12 34 56"]})
    assert config["region"] == "BE" and config["recipients"] == ["+32470123456"]


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ({"client_id": 42}, "config: client_id: expected str (got 42)"),
        ({"client_secret": ""}, "config: client_secret: must not be empty (got '***')"),
        ({"client_secret": 123}, "config: client_secret: expected str (got '***')"),
        (
            {"base_url": "http://example.com"},
            "config: base_url: plain http is only allowed for loopback hosts",
        ),
        ({"base_url": "ftp://x"}, "config: base_url: expected an https:// URL (got 'ftp://x')"),
        ({"max_parts": 0}, "config: max_parts: value must be at least 1 (got 0)"),
        ({"max_parts": "many"}, "config: max_parts: expected int (got 'many')"),
        ({"unicode": "sometimes"}, "config: unicode: value must be one of"),
        ({"overflow": "drop"}, "config: overflow: value must be one of"),
        ({"rate_limit": -1}, "config: rate_limit: value must be at least 0.1"),
        ({"region": "XX"}, "config: region: expected a two-letter ISO country code"),
        ({"sender": "Home Alert"}, "config: sender: is not a valid sender ID: must not contain"),
        ({"recipients": ["0612345678", "12"]}, "config: recipients[1]: '**' is not a valid"),
        ({"recipients": {"bob": "0699"}}, "config: recipients.bob: '****' is not a valid"),
        ({"recipients": 5}, "config: recipients: expected a list of phone numbers"),
        ({"callback": "http://hooks.example.com/dlr"}, "config: callback: plain http"),
        ({"ttl": 5}, "config: ttl: value must be at least 20000"),
        ({"client_ref": "x" * 41}, "config: client_ref: at most 40 characters"),
        ({"colour": "red"}, "config: colour: unknown key (got 'red')"),
    ],
)
def test_errors_are_one_line_naming_key_and_value(override: dict[str, object], line: str) -> None:
    with pytest.raises(KpnValidationError) as info:
        validate_config({**BASE, **override})
    text = str(info.value)
    assert text.startswith(line), text
    assert "\n" not in text and "TOPSECRET" not in text
    assert info.value.field


def test_missing_required_key() -> None:
    with pytest.raises(
        KpnValidationError, match=r"^config: client_secret: required key is missing$"
    ):
        validate_config({"client_id": "x"})


def test_loopback_http_is_allowed_for_the_emulator() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1/", "http://[::1]:9"):
        assert validate_config({**BASE, "base_url": url})["base_url"] == url.rstrip("/")


def test_not_a_mapping() -> None:
    with pytest.raises(KpnValidationError, match="config: expected a mapping"):
        validate_config(["client_id"])  # type: ignore[arg-type]


def test_error_stays_on_one_line_for_odd_keys() -> None:
    with pytest.raises(KpnValidationError) as info:
        validate_config({**BASE, "x\ry": 1})
    assert str(info.value) == "config: 'x\\ry': unknown key (got 1)"


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "true", "True"])
def test_a_yaml_boolean_as_sender_is_a_config_error_naming_the_field(
    word: str, tmp_path: Path
) -> None:
    """`sender: yes` is a boolean to YAML: refused, naming the field, never sent as "True"."""
    path = tmp_path / "config.yaml"
    path.write_text(f"client_id: my-id\nclient_secret: TOPSECRET-123\nsender: {word}\n")
    with pytest.raises(KpnValidationError) as info:
        load(str(path), {}, environ={})
    text = str(info.value)
    assert text.startswith("config: sender: expected text, got the boolean "), text
    assert "quote" in text and "\n" not in text and "TOPSECRET" not in text
    assert info.value.field == "sender"
    path.write_text(f"client_id: my-id\nclient_secret: x\nsender: '{word}'\n")
    assert load(str(path), {}, environ={})[0]["sender"] == word  # quoted, it is the text
