"""kpnsms:// URLs: a table in the style of Apprise's own plugin tests, plus registration.

Each row: URL -> an instance (with its privacy URL prefix and len()) or a refusal. Every
instance must round-trip exactly through url(), and keep secrets and targets out of the
places they must not be.
"""

from __future__ import annotations

import importlib
from typing import Any

import apprise
import pytest
from apprise import Apprise, NotificationManager, NotifyBase

from kpn_sms_notify import apprise_plugin
from kpn_sms_notify.apprise_plugin import SCHEMA, NotifyKpnSms, register

REFUSED = "refused"
CID, SECRET = "my-client-id", "S3cr3t-value"
BASE = f"kpnsms://{CID}:{SECRET}@KPNAlert"


@pytest.fixture(autouse=True)
def _registered() -> None:
    # Apprise's unload_modules() (used by some tests) drops us; put the scheme back.
    register()


# (url, expected: REFUSED or (privacy-URL prefix, len()))
URL_TABLE: list[tuple[str, Any]] = [
    ("kpnsms://", REFUSED),
    ("kpnsms://:@/", REFUSED),
    (f"kpnsms://{CID}:{SECRET}@KPNAlert", REFUSED),  # no targets
    (f"kpnsms://{CID}@KPNAlert/0612345678", REFUSED),  # no secret
    (f"kpnsms://{CID}:{SECRET}@/0612345678", REFUSED),  # no sender
    (f"{BASE}/0612345678", ("kpnsms://m...d:****@KPNAlert/+316******78/", 1)),
    # national, international and 00 forms all normalise; duplicates collapse
    (
        f"{BASE}/0612345678/+31687654321/0031612345679/+31612345678",
        ("kpnsms://m...d:****@KPNAlert/+316******78/+316******21/+316******79/", 3),
    ),
    # invalid targets are kept (so url() shows them) and counted
    (f"{BASE}/0612345678/abc/12%203", ("kpnsms://m...d:****@KPNAlert/+316******78/***/****/", 3)),
    (f"{BASE}/12345", ("kpnsms://m...d:****@KPNAlert/*****/", 1)),
    # aliases: ?client_id= ?secret= ?to= ?from=
    (
        f"kpnsms://KPNAlert/?client_id={CID}&secret={SECRET}&to=0612345678,0687654321",
        ("kpnsms://m...d:****@KPNAlert/+316******78/+316******21/", 2),
    ),
    (
        f"kpnsms://{CID}:{SECRET}@0612345678/0687654321?from=KPNAlert",
        ("kpnsms://m...d:****@KPNAlert/+316******78/+316******21/", 2),
    ),
    (
        f"kpnsms://{CID}:{SECRET}@0612345678?sender=%2B31612345670",
        ("kpnsms://m...d:****@31612345670/+316******78/", 1),
    ),
    (
        f"kpnsms://{CID}@KPNAlert/0612345678?secret=a%26b%2Fc",
        ("kpnsms://m...d:****@KPNAlert/+316******78/", 1),
    ),
    # senders: alphanumeric up to 11 characters, or a number
    (f"kpnsms://{CID}:{SECRET}@KPNAlert123/0612345678", ("kpnsms://m...d:****@KPNAlert123/", 1)),
    (f"kpnsms://{CID}:{SECRET}@KPNAlert1234/0612345678", REFUSED),
    (f"kpnsms://{CID}:{SECRET}@KPN_Alert/0612345678", REFUSED),
    # base_url: https anywhere, plain http only on loopback (the emulator)
    (
        f"{BASE}/0612345678?base_url=http://127.0.0.1:8080/",
        ("kpnsms://m...d:****@KPNAlert/+316******78/?base_url=http%3A%2F%2F127.0.0.1%3A8080&", 1),
    ),
    (
        f"{BASE}/0612345678?base_url=https://api-acc.example.nl",
        (
            "kpnsms://m...d:****@KPNAlert/+316******78/?base_url=https%3A%2F%2Fapi-acc.example.nl&",
            1,
        ),
    ),
    (f"{BASE}/0612345678?base_url=http://example.com", REFUSED),
    (f"{BASE}/0612345678?base_url=ftp://127.0.0.1", REFUSED),
    # the shared schema's options
    (f"{BASE}/0470123456?region=be", ("kpnsms://m...d:****@KPNAlert/+324******56/?region=BE&", 1)),
    (f"{BASE}/0612345678?region=be", ("kpnsms://m...d:****@KPNAlert/061*****78/?region=BE&", 1)),
    (
        f"{BASE}/0612345678?max_parts=1&sms_overflow=fail&unicode=never&rate_limit=5&timeout=3"
        "&retries=0&retry_budget=5&retry_ambiguous=on&status_report=yes&ttl=60000&client_ref=web1"
        "&callback=https://example.com/dlr&token_margin=0&max_concurrency=2",
        (
            "kpnsms://m...d:****@KPNAlert/+316******78/?rate_limit=5.0&max_concurrency=2&timeout=3.0"
            "&token_margin=0.0&retries=0&retry_budget=5.0&retry_ambiguous=yes&ttl=60000&max_parts=1"
            "&sms_overflow=fail&unicode=never&status_report=yes"
            "&callback=https%3A%2F%2Fexample.com%2Fdlr&client_ref=web1&",
            1,
        ),
    ),
    (f"{BASE}/0612345678?max_parts=0", REFUSED),
    (f"{BASE}/0612345678?max_parts=11", REFUSED),
    (f"{BASE}/0612345678?unicode=maybe", REFUSED),
    (f"{BASE}/0612345678?sms_overflow=split", REFUSED),
    (f"{BASE}/0612345678?region=XX", REFUSED),
    (f"{BASE}/0612345678?timeout=soon", REFUSED),
    (f"{BASE}/0612345678?ttl=5", REFUSED),
    (f"{BASE}/0612345678?callback=http://example.com/dlr", REFUSED),
    # Apprise's own arguments pass through
    (
        f"{BASE}/0612345678?overflow=split&format=text",
        ("kpnsms://m...d:****@KPNAlert/+316******78/?", 1),
    ),
    # awkward characters in the credentials
    (
        "kpnsms://id%3Awith%40:se%2Fc%40r%3At@KPNAlert/0612345678",
        ("kpnsms://i...@:****@KPNAlert/+316******78/", 1),
    ),
]


@pytest.mark.parametrize(("url", "expected"), URL_TABLE)
def test_url_table(url: str, expected: Any) -> None:
    if expected == REFUSED:
        with pytest.raises(TypeError):  # AppriseImproperlyConfigured is a TypeError
            Apprise.instantiate(url, suppress_exceptions=False)
        assert Apprise().add(url) is False
        return

    prefix, length = expected
    obj = Apprise.instantiate(url, suppress_exceptions=False)
    assert isinstance(obj, NotifyKpnSms)
    assert len(obj) == length

    privacy = obj.url(privacy=True)
    assert privacy.startswith(prefix), privacy
    assert obj.client_secret not in privacy
    assert apprise_plugin.NotifyKpnSms.quote(obj.client_secret, safe="") not in privacy
    assert isinstance(obj.url_id(), str)
    for target in obj.targets:  # phone numbers are masked wherever Apprise logs the URL
        assert target not in privacy

    # Round trip: the URL it prints builds an identical object that prints the same URL.
    again = Apprise.instantiate(obj.url(), suppress_exceptions=False)
    assert isinstance(again, NotifyKpnSms)
    assert again.url() == obj.url()
    assert again.url(privacy=True) == privacy
    assert again.url_identifier == obj.url_identifier
    assert again.url_id() == obj.url_id()
    assert len(again) == len(obj)
    assert (again.targets, again.invalid_targets) == (obj.targets, obj.invalid_targets)

    assert obj.client_secret not in repr(obj) and obj.client_secret not in str(obj)

    # The identifier is the account, never the recipients.
    for target in obj.targets + obj.invalid_targets:
        assert target not in obj.url_identifier


@pytest.mark.parametrize("garbage", [None, object(), 42, "", "mailto://x@example.com"])
def test_parse_url_garbage(garbage: Any) -> None:
    result = NotifyKpnSms.parse_url(garbage)
    assert not result or result.get("schema") != SCHEMA


def test_targets_normalised_and_invalid_kept() -> None:
    obj = Apprise.instantiate(f"{BASE}/06-1234 5678/0031687654321/nope?to=%2B31612345679,0612")
    assert obj.targets == ["+31612345678", "+31687654321", "+31612345679"]
    assert obj.invalid_targets == ["nope", "0612"]
    assert "/nope/0612/" in obj.url()


@pytest.mark.parametrize(
    ("target", "number"),
    [
        ("+49 201 0000", "+492010000"),
        ("+492010000", "+492010000"),
        ("0049%202010000", "+492010000"),
        ("0612345678", "+31612345678"),
        ("31612345678", "+31612345678"),
        ("+14155552671", "+14155552671"),
    ],
)
def test_numbers_keep_their_country_through_url(target: str, number: str) -> None:
    # Issue 11: "+49 201 0000" came back from url() as "492010000", which re-read as the
    # Dutch 0492 010000. Apprise API stores url() and instantiates it again.
    obj = Apprise.instantiate(f"{BASE}/{target}", suppress_exceptions=False)
    assert obj.targets == [number]
    url = obj.url()
    assert f"/{number}/" in url
    for _ in range(2):  # and again: every generation names the same number
        obj = Apprise.instantiate(url, suppress_exceptions=False)
        assert obj.targets == [number]
        assert obj.url() == url


def test_the_foreign_number_of_issue_11_round_trips_unchanged() -> None:
    url = f"{BASE}/+492010000"
    obj = Apprise.instantiate(url, suppress_exceptions=False)
    assert obj.url().startswith(f"{url}/?")
    again = Apprise.instantiate(obj.url(), suppress_exceptions=False)
    assert again.targets == ["+492010000"] and again.url() == obj.url()
    assert "/+492****00/" in obj.url(privacy=True)


def test_identifier_changes_with_account_not_targets() -> None:
    one = Apprise.instantiate(f"{BASE}/0612345678")
    other_targets = Apprise.instantiate(f"{BASE}/0687654321/0611111111")
    other_secret = Apprise.instantiate(f"kpnsms://{CID}:other@KPNAlert/0612345678")
    other_gateway = Apprise.instantiate(f"{BASE}/0612345678?base_url=http://127.0.0.1:1")
    assert one.url_id() == other_targets.url_id()
    assert len({one.url_id(), other_secret.url_id(), other_gateway.url_id()}) == 3


def test_apprise_arguments_pass_through() -> None:
    obj = Apprise.instantiate(f"{BASE}/0612345678?overflow=split&format=text&verify=no")
    again = Apprise.instantiate(obj.url())
    for arg in ("overflow=split", "format=text", "verify=no"):
        assert arg in obj.url() and arg in again.url()


def test_retry_multiplies_len_where_apprise_has_retry() -> None:
    obj = Apprise.instantiate(f"{BASE}/0612345678/0687654321?retry=2")
    has_retry = "retry" in NotifyBase.template_args
    assert len(obj) == (6 if has_retry else 2)


def test_error_names_the_argument_as_the_url_spells_it() -> None:
    with pytest.raises(TypeError) as info:
        Apprise.instantiate(f"{BASE}/0612345678?sms_overflow=split", suppress_exceptions=False)
    assert str(info.value).startswith("KPN SMS URL: sms_overflow:")
    assert "'split'" in str(info.value)
    with pytest.raises(TypeError) as info:
        Apprise.instantiate(
            f"kpnsms://{CID}:{SECRET}@KPN Alert/0612345678", suppress_exceptions=False
        )
    assert "sender" in str(info.value) and SECRET not in str(info.value)


def test_details_lists_templates_tokens_and_schema_options() -> None:
    entry = next(s for s in Apprise().details()["schemas"] if s["service_name"] == "KPN SMS")
    assert entry["secure_protocols"] == [SCHEMA] or SCHEMA in entry["secure_protocols"]
    details = entry["details"]
    assert "{schema}://{client_id}:{client_secret}@{sender}/{targets}" in details["templates"]
    tokens = details["tokens"]
    assert tokens["client_id"]["private"] and tokens["client_secret"]["private"]
    assert tokens["targets"]["type"] == "list:string"
    args = details["args"]
    for alias, of in (("to", "targets"), ("from", "sender"), ("secret", "client_secret")):
        assert args[alias]["alias_of"] == of
    assert args["max_parts"]["type"] == "int" and args["max_parts"]["max"] == 10
    assert args["unicode"]["values"] == ["auto", "always", "never"] or tuple(
        args["unicode"]["values"]
    ) == ("auto", "always", "never")
    assert args["status_report"]["type"] == "bool"
    assert args["sms_overflow"]["default"] == "truncate"


@pytest.mark.skipif(not hasattr(NotifyBase, "url_fields"), reason="apprise < 2.3")
def test_url_fields_round_trip() -> None:
    from apprise.fields import fields_to_url

    obj = Apprise.instantiate(f"{BASE}/0612345678/nope?region=nl&max_parts=2")
    fields = obj.url_fields()
    rebuilt = Apprise.instantiate(fields_to_url(fields), suppress_exceptions=False)
    assert rebuilt.url() == obj.url()
    hidden = obj.url_fields(privacy=True)
    assert SECRET not in repr(hidden) and CID not in repr(hidden)


def test_yaml_config_keys_map_through_the_templates(tmp_path: Any) -> None:
    config = tmp_path / "apprise.yml"
    config.write_text(
        "urls:\n"
        f"  - kpnsms://{CID}:{SECRET}@KPNAlert:\n"
        "      - to: '0612345678'\n"
        "        region: NL\n"
        "        max_parts: 2\n"
    )
    cfg = apprise.AppriseConfig()
    assert cfg.add(str(config))
    notifier = Apprise()
    assert notifier.add(cfg)
    servers = list(notifier)
    assert len(servers) == 1 and isinstance(servers[0], NotifyKpnSms)
    assert servers[0].targets == ["+31612345678"]
    assert servers[0].config["max_parts"] == 2


# -- registration ----------------------------------------------------------------------


def test_import_registers_and_register_is_idempotent() -> None:
    manager = NotificationManager()
    assert manager[SCHEMA] is NotifyKpnSms
    assert register() is True
    assert register() is True
    assert manager[SCHEMA] is NotifyKpnSms
    assert isinstance(Apprise.instantiate(f"{BASE}/0612345678"), NotifyKpnSms)


def test_register_survives_unload_modules() -> None:
    manager = NotificationManager()
    manager.unload_modules()
    assert SCHEMA not in manager
    assert Apprise().add(f"{BASE}/0612345678") is False
    assert register() is True
    assert manager[SCHEMA] is NotifyKpnSms
    assert Apprise().add(f"{BASE}/0612345678") is True


def test_reimport_replaces_an_older_copy_of_the_class() -> None:
    old = apprise_plugin.NotifyKpnSms
    module = importlib.reload(apprise_plugin)
    try:
        assert module.NotifyKpnSms is not old
        assert NotificationManager()[SCHEMA] is module.NotifyKpnSms
    finally:
        # Keep one class for the rest of the session (other tests hold the old name).
        NotificationManager().remove(SCHEMA)
        assert module.register() is True
        module.NotifyKpnSms = old
        NotificationManager().remove(SCHEMA)
        assert register() is True


def test_foreign_owner_is_left_alone_unless_forced() -> None:
    class NotifyImpostor(NotifyBase):  # type: ignore[misc]
        service_name = "Impostor"
        secure_protocol = SCHEMA

        def send(self, *args: Any, **kwargs: Any) -> bool:
            return True

    manager = NotificationManager()
    manager.remove(SCHEMA)
    assert manager.add(NotifyImpostor)
    try:
        assert register() is False
        assert manager[SCHEMA] is NotifyImpostor
        assert register(force=True) is True
        assert manager[SCHEMA] is NotifyKpnSms
    finally:
        if manager[SCHEMA] is not NotifyKpnSms:
            manager.remove(SCHEMA)
            register()
