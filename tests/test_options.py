"""Options declared once (kpn_sms_notify.options): a misspelt option fails at the call, and
the schema, Apprise arguments, CLI flags, environment variables, settings and the docs'
configuration table are all derived from the declaration."""

from __future__ import annotations

import re
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from kpn_sms_notify import (
    KpnSms,
    KpnSmsSync,
    KpnValidationError,
    UnknownOptionError,
    validate_config,
)
from kpn_sms_notify.apprise_plugin import NotifyKpnSms
from kpn_sms_notify.apprise_support import OPTIONS as URL_OPTIONS
from kpn_sms_notify.cli import build_parser
from kpn_sms_notify.cliconfig import ENV_KEYS, from_environment
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.options import (
    CONFIG_OPTIONS,
    OPTIONS,
    ClientOptions,
    Scope,
    SendOptions,
    config_table,
)
from kpn_sms_notify.schema import CONFIG_KEYS
from kpn_sms_notify.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
CONFIGURATION_PAGE = DOCS / "configuration.md"
APPRISE_PAGE = DOCS / "apprise.md"
MINIMAL = {"client_id": "id", "client_secret": "secret"}
A = "31612345678"


def sync_client(url: str, **options: Any) -> KpnSmsSync:
    return KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", **options)


def async_client(url: str, **options: Any) -> KpnSms:
    return KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", **options)


# ---------------------------------------------------------------- a misspelt option


@pytest.mark.parametrize("cls", [KpnSms, KpnSmsSync])
@pytest.mark.parametrize(
    ("typo", "meant"), [("sendr", "sender"), ("retrys", "retries"), ("max_part", "max_parts")]
)
def test_a_misspelt_constructor_option_fails_naming_the_closest(
    cls: Any, typo: str, meant: str
) -> None:
    with pytest.raises(UnknownOptionError) as caught:
        cls("id", "secret", **{typo: "X"})
    err = caught.value
    assert str(err) == f"unknown option {typo!r} — did you mean {meant!r}?"
    assert err.field == typo
    # A wrong call (TypeError, as Python's own) and bad input hosts report (exit 2, 400...).
    assert isinstance(err, TypeError) and isinstance(err, KpnValidationError)


def test_an_option_with_nothing_close_lists_the_options() -> None:
    with pytest.raises(UnknownOptionError, match=r"^unknown option 'zzz' \(options: .*\bsender\b"):
        KpnSmsSync("id", "secret", zzz=1)  # type: ignore[call-arg]


def test_title_is_no_constructor_option() -> None:
    """send() options that are not config (the title) are refused by the constructor."""
    with pytest.raises(UnknownOptionError, match="'title'"):
        KpnSms("id", "secret", title="x")  # type: ignore[call-arg]


def test_from_config_refuses_an_unknown_key_too() -> None:
    with pytest.raises(UnknownOptionError, match="did you mean 'region'"):
        KpnSms.from_config({**MINIMAL, "regoin": "NL"})


async def test_a_misspelt_send_option_fails_before_any_request(
    emulator: Emulator, emulator_url: str
) -> None:
    async with async_client(emulator_url) as sms:
        with pytest.raises(UnknownOptionError) as caught:
            await sms.send("hi", [A], titel="x")  # type: ignore[call-arg]
        assert sms.token_requests == 0
    assert str(caught.value) == "unknown option 'titel' — did you mean 'title'?"
    assert emulator.counters["token_requests"] == 0 and emulator.messages == []


def test_a_misspelt_send_option_fails_before_any_request_sync(
    emulator: Emulator, emulator_url: str
) -> None:
    with sync_client(emulator_url) as sms:
        with pytest.raises(UnknownOptionError) as caught:
            sms.send("hi", [A], unicod="never")  # type: ignore[call-arg]
        assert sms.token_requests == 0
    assert str(caught.value) == "unknown option 'unicod' — did you mean 'unicode'?"
    assert emulator.counters["token_requests"] == 0 and emulator.messages == []


def test_config_only_options_are_no_send_options(emulator: Emulator, emulator_url: str) -> None:
    with sync_client(emulator_url) as sms, pytest.raises(UnknownOptionError, match="'retries'"):
        sms.send("hi", [A], retries=1)  # type: ignore[call-arg]
    assert emulator.messages == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_parts": 11}, "max_parts: value must be at most 10 (got 11)"),
        (
            {"overflow": "split"},
            "overflow: value must be one of ['fail', 'truncate'] (got 'split')",
        ),
        ({"client_ref": "x" * 41}, "client_ref: at most 40 characters"),
        ({"callback": "http://hooks.example.com/dlr"}, "callback: plain http"),
        ({"sender": "Way Too Long Sender"}, "sender: "),
    ],
)
def test_send_options_are_checked_like_the_config(
    emulator: Emulator, emulator_url: str, options: dict[str, Any], expected: str
) -> None:
    """The same declaration checks a per-message option given to send() and in the config."""
    with sync_client(emulator_url) as sms, pytest.raises(KpnValidationError) as caught:
        sms.send("hi", [A], **options)
    assert str(caught.value).startswith(expected)
    with pytest.raises(KpnValidationError, match=f"^config: {next(iter(options))}: "):
        validate_config({**MINIMAL, **options})
    assert emulator.messages == []


def test_mypy_flags_a_misspelt_option(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "typo.py"
    source.write_text(
        "from kpn_sms_notify import KpnSms, KpnSmsSync\n"
        "async def main() -> None:\n"
        "    sms = KpnSms('id', 'secret', sendr='X')\n"
        "    await sms.send('hi', ['0612345678'], titel='x')\n"
        "    KpnSmsSync('id', 'secret', unicode='sometimes')\n",
        encoding="utf-8",
    )
    out, _, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "c"), str(source)]
    )
    assert status == 1
    assert 'Unexpected keyword argument "sendr" for "KpnSms"' in out
    assert 'Unexpected keyword argument "titel" for "send" of "KpnSms"' in out
    assert 'Argument "unicode" to "KpnSmsSync" has incompatible type' in out


# ---------------------------------------------------------------- derived from the declaration


def test_the_typed_keywords_are_the_declared_options() -> None:
    message = {o.key for o in OPTIONS if o.scope is Scope.MESSAGE}
    assert set(typing.get_type_hints(SendOptions)) == message
    assert set(typing.get_type_hints(ClientOptions)) == {
        o.key for o in CONFIG_OPTIONS if not o.required
    }


def test_the_configuration_page_table_is_the_declaration() -> None:
    text = CONFIGURATION_PAGE.read_text(encoding="utf-8")
    section = text.split("# Configuration reference", 1)[1]
    first = re.search(r"^(\|.*\n)+", section, re.MULTILINE)
    assert first is not None
    assert first.group(0) == config_table(), (
        "docs/configuration.md's table differs from kpn_sms_notify/options.py; "
        "paste the output of `python -m kpn_sms_notify.options`"
    )


def test_the_schema_takes_every_declared_option() -> None:
    assert {o.key for o in CONFIG_OPTIONS} == CONFIG_KEYS
    config = validate_config(MINIMAL)
    for option in CONFIG_OPTIONS:
        if option.default is not None:
            assert config[option.key] == option.default, option.key
        for bound in (option.minimum, option.maximum):
            if bound is not None:
                assert validate_config({**MINIMAL, option.key: bound})[option.key] == bound
        if option.maximum is not None:
            with pytest.raises(KpnValidationError, match=f"^config: {option.key}: "):
                validate_config({**MINIMAL, option.key: option.maximum * 2 + 1})
        for choice in option.choices:
            assert validate_config({**MINIMAL, option.key: choice})[option.key] == choice
        if option.choices:
            with pytest.raises(KpnValidationError, match=f"^config: {option.key}: "):
                validate_config({**MINIMAL, option.key: "no-such-choice"})


def test_settings_hold_every_config_option() -> None:
    assert {f.name for f in fields(Settings)} == {o.key for o in CONFIG_OPTIONS}


def test_apprise_arguments_are_the_declared_options() -> None:
    args = NotifyKpnSms.template_args
    tokens = NotifyKpnSms.template_tokens
    for option in CONFIG_OPTIONS:
        if option.url_part:  # user, password, host or path of the URL
            assert option.key in tokens or option.key == "recipients", option.key
            continue
        meta = args[option.arg]
        assert meta.get("default") == option.default, option.key
        assert (meta.get("min"), meta.get("max")) == (option.minimum, option.maximum)
        assert tuple(meta.get("values", ())) == option.choices
        assert meta["name"] == option.label
    # Apprise owns ?overflow= on every plugin: ours goes by another name.
    assert args["sms_overflow"]["values"] == ("truncate", "fail")


def test_cli_flags_and_environment_are_the_declared_ones() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    for option in OPTIONS:
        if option.cli is None:
            continue
        command = parser if option.cli == "kpn-sms" else commands[option.cli]  # type: ignore[index]
        action = next(a for a in command._actions if option.flag in a.option_strings)
        assert action.dest == option.key
        assert tuple(action.choices or ()) == option.choices
    assert {f"KPN_SMS_{o.key.upper()}": o.key for o in OPTIONS if o.env} == ENV_KEYS
    env = {name: "x" for name in ENV_KEYS}
    assert set(from_environment(env)) == set(ENV_KEYS.values())


def test_the_apprise_page_table_lists_every_url_argument() -> None:
    """Apprise's argument table words things its own way, but misses none."""
    section = APPRISE_PAGE.read_text(encoding="utf-8").split("\n## URL", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    for option in URL_OPTIONS:
        assert any(f"`{option.arg}`" in row for row in rows), option.arg
