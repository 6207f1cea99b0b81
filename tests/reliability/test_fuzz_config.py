"""Fuzzing the one config schema (and the CLI file and serve section built on it): any input
is either accepted or refused with one KpnValidationError line that names the key and never
shows a secret."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from kpn_sms_notify import cliconfig
from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.schema import CONFIG_KEYS, SECRET_KEYS, validate_config
from kpn_sms_notify.server import split_config
from kpn_sms_notify.settings import Settings

CANARY = "S3CR3T-LEAK-CANARY"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "0612345678",
            "+31687654321",
            "http://127.0.0.1:9",
            "https://x.example",
            "auto",
            "never",
            "truncate",
            "fail",
            "NL",
            "KPNAlert",
            "",
            " ",
            "3",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
secrets = st.text(max_size=20).map(lambda s: CANARY + s)
keys = st.one_of(
    st.sampled_from(sorted(CONFIG_KEYS)), st.sampled_from(sorted(SECRET_KEYS)), st.text(max_size=12)
)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = draw(st.dictionaries(keys, values, max_size=8))
    raw.pop("client_secret", None)
    if draw(st.booleans()):
        raw["client_id"] = draw(st.one_of(st.text(max_size=12), values))
    # The secret goes in as the client_secret (any shape) and under other secret-ish keys.
    secret = draw(secrets)
    raw["client_secret"] = draw(st.sampled_from([secret, [secret], {"x": secret}, secret]))
    for key in draw(st.lists(st.sampled_from(sorted(SECRET_KEYS - {"client_secret"})), max_size=2)):
        raw[key] = secret
    return raw


def assert_clean(err: KpnValidationError) -> None:
    text = str(err)
    assert text and "\n" not in text and "\r" not in text, repr(text)
    assert text.startswith("config: ") or err.field, text
    assert CANARY not in text and CANARY not in repr(err.value) and CANARY not in repr(err)


@given(configs())
def test_validate_config_accepts_or_refuses_in_one_clean_line(raw: dict[str, Any]) -> None:
    try:
        config = validate_config(raw)
    except KpnValidationError as err:
        assert_clean(err)
        return
    # Accepted: the settings built from it never show the secret.
    settings = Settings.from_config(config)
    assert CANARY not in repr(settings) and CANARY not in str(settings)


@given(configs())
def test_extra_keys_mode_too(raw: dict[str, Any]) -> None:
    try:
        validate_config(raw, extra=True)
    except KpnValidationError as err:
        assert_clean(err)


@given(st.one_of(values, st.text(max_size=200), st.binary(max_size=100)))
def test_config_file_of_any_content(content: Any) -> None:
    """The CLI's YAML file: whatever it holds, one clean line or a config."""
    text = (
        content.decode("utf-8", "replace")
        if isinstance(content, bytes)
        else (content if isinstance(content, str) else yaml.safe_dump(content))
    )
    text = text.replace("CANARY", CANARY)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kpn.yaml"
        path.write_text(text + f"\nclient_secret: {CANARY}x\n", encoding="utf-8")
        try:
            cliconfig.load(str(path), {}, environ={})
        except KpnValidationError as err:
            assert "\n" not in str(err) and CANARY not in str(err), str(err)


serve_secret_keys = ("token", "path_secret", "signature_secret")


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "listen",
                "token",
                "basic_auth",
                "metrics_auth",
                "max_body",
                "template",
                "dedupe_window",
                "receivers",
                "path_secret",
                "signature_secret",
                "signature_method",
                "concat_ttl",
                "sinks",
                "bogus",
                *serve_secret_keys,
            ]
        ),
        values,
        max_size=8,
    ),
    st.lists(st.sampled_from(serve_secret_keys), max_size=3),
    secrets,
)
def test_serve_section(serve: dict[str, Any], secret_keys: list[str], secret: str) -> None:
    serve = dict(serve)
    for key in secret_keys:
        serve[key] = secret
    if "basic_auth" in serve and isinstance(serve["basic_auth"], dict):
        serve["basic_auth"]["password"] = secret
    raw = {
        "client_id": "id",
        "client_secret": secret,
        "sender": "KPNAlert",
        "base_url": "http://127.0.0.1:9",
        "serve": serve,
    }
    try:
        _, config = split_config(raw)
    except KpnValidationError as err:
        assert_clean(err)
        return
    assert CANARY not in repr(config)
