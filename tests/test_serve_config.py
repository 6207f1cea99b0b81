"""`kpn-sms serve` without a network: the `serve:` config, payload parsing, routing, text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples  # type: ignore[import-not-found]
from test_serve_support import (
    ALICE_PLUS,
    BOB_PLUS,
    CAROL_PLUS,
    am_alert,
    am_payload,
    grafana_payload,
)

from kpn_sms_notify.encoding import analyse
from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.server import load_config, split_config
from kpn_sms_notify.server.alerts import (
    parse_alert_payload,
    parse_notify_payload,
    route_notification,
)
from kpn_sms_notify.server.text import DEFAULT_TEMPLATE, render

MINIMAL_YAML = """\
client_id: my-client-id
client_secret: my-client-secret
sender: KPNAlert
recipients: ["0612345678"]
base_url: https://api-prd.kpn.com
serve:
  listen: 127.0.0.1:9478
  token: change-me        # bearer token required on the alert endpoints
"""


def base(**serve: Any) -> dict[str, Any]:
    return {
        "client_id": "id",
        "client_secret": "very-secret-value",
        "sender": "KPNAlert",
        "recipients": ["0612345678"],
        "serve": {"token": "change-me", **serve},
    }


# --------------------------------------------------------------------------- config


def test_minimal_file_from_the_issue_loads(tmp_path: Path) -> None:
    path = tmp_path / "kpn.yaml"
    path.write_text(MINIMAL_YAML)
    client, serve = load_config(path)
    assert client["recipients"] == [ALICE_PLUS]
    assert client["base_url"] == "https://api-prd.kpn.com"
    assert (serve.host, serve.port, serve.token) == ("127.0.0.1", 9478, "change-me")
    assert not serve.inbound_enabled
    assert serve.template == DEFAULT_TEMPLATE
    assert "change-me" not in repr(serve)


@pytest.mark.parametrize(
    ("serve", "key"),
    [
        ({"listen": "nowhere"}, "serve.listen"),
        ({"token": "short"}, "serve.token"),
        (
            {"token": None, "basic_auth": {"username": "u", "password": "x"}},
            "serve.basic_auth.password",
        ),
        ({"max_body": 10}, "serve.max_body"),
        ({"dedupe_window": -1}, "serve.dedupe_window"),
        ({"receivers": {"oncall": ["not-a-number"]}}, "serve.receivers.oncall.recipients[0]"),
        (
            {"receivers": {"db": {"recipients": ["0612345678"], "match_re": {"team": "("}}}},
            "serve.receivers.db",
        ),
        ({"template": "{summary.__class__}"}, "serve.template"),
        ({"template": "{0}"}, "serve.template"),
        ({"path_secret": "too-short"}, "serve.path_secret"),
        ({"path_secret": "has/slash/in/it/0123456789"}, "serve.path_secret"),
        ({"sinks": {"jsonl": "/tmp/x.jsonl"}}, "serve.path_secret"),
        (
            {"path_secret": "p" * 20, "sinks": {"forward": "http://example.com/hook"}},
            "serve.sinks.forward",
        ),
        ({"signature_method": "crc32"}, "serve.signature_method"),
        ({"path_secret": "p" * 20}, "serve.sinks"),
        ({"colour": "blue"}, "serve.colour"),
    ],
)
def test_bad_serve_settings_name_the_key(serve: dict[str, Any], key: str) -> None:
    raw = base(**serve)
    raw["serve"] = {k: v for k, v in raw["serve"].items() if v is not None}
    with pytest.raises(KpnValidationError) as info:
        split_config(raw)
    message = str(info.value)
    assert key in message, message
    assert "\n" not in message
    assert "very-secret-value" not in message


def test_secret_values_are_masked_in_errors() -> None:
    with pytest.raises(KpnValidationError) as info:
        split_config(base(token="has space in it"))
    assert "has space in it" not in str(info.value)
    assert "***" in str(info.value)


def test_auth_is_required() -> None:
    raw = base()
    del raw["serve"]["token"]
    with pytest.raises(KpnValidationError, match="serve: set token"):
        split_config(raw)


def test_client_keys_still_checked_by_the_shared_schema() -> None:
    raw = base()
    raw["max_parts"] = 99
    with pytest.raises(KpnValidationError, match="max_parts"):
        split_config(raw)


def test_unreadable_and_bad_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(KpnValidationError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("client_id: [unclosed\n")
    with pytest.raises(KpnValidationError, match="not valid YAML at line"):
        load_config(bad)


def test_receivers_forms_and_label_references() -> None:
    raw = base(
        receivers={
            "oncall": ["0612345678", "0687654321"],
            "db": {"recipients": ["carol"], "match": {"team": "db"}, "template": "DB {alertname}"},
        }
    )
    raw["recipients"] = {"alice": "0612345678", "carol": "0611111111"}
    _client, serve = split_config(raw)
    oncall, db = serve.routes
    assert oncall.recipients == (ALICE_PLUS, BOB_PLUS) and not oncall.by_labels
    assert db.recipients == (CAROL_PLUS,) and db.by_labels and db.template == "DB {alertname}"


# --------------------------------------------------------------------------- payloads


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ({"version": "3", "alerts": [am_alert()]}, "version"),
        ({"version": "4"}, "alerts"),
        ({"version": "4", "alerts": []}, "alerts"),
        ({"version": "4", "alerts": ["x"]}, "alerts[0]"),
        ({"version": "4", "alerts": [{**am_alert(), "status": "burning"}]}, "alerts[0].status"),
        ({"version": "4", "alerts": [{**am_alert(), "labels": ["a"]}]}, "alerts[0].labels"),
        (
            {"version": "4", "alerts": [{**am_alert(), "labels": {"a": {"b": 1}}}]},
            "alerts[0].labels.a",
        ),
        ({"version": "4", "alerts": [am_alert()], "truncatedAlerts": -1}, "truncatedAlerts"),
        ({"version": "4", "alerts": [am_alert()], "receiver": 5}, "receiver"),
    ],
)
def test_malformed_alert_payloads(payload: Any, field: str) -> None:
    with pytest.raises(KpnValidationError) as info:
        parse_alert_payload(payload, "alertmanager")
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_identity_is_stable_and_changes_with_content() -> None:
    one = parse_alert_payload(am_payload(am_alert()), "alertmanager")
    again = parse_alert_payload(am_payload(am_alert()), "alertmanager")
    resolved = parse_alert_payload(am_payload(am_alert(status="resolved")), "alertmanager")
    other = parse_alert_payload(
        am_payload(am_alert(starts_at="2024-05-02T00:00:00Z")), "alertmanager"
    )
    assert one.identity == again.identity
    assert len({one.identity, resolved.identity, other.identity}) == 3


def test_grafana_payload_parses() -> None:
    note = parse_alert_payload(grafana_payload(), "grafana")
    assert note.source == "grafana" and note.receiver == "kpn-contact"
    assert note.alerts[0].labels["alertname"] == "DiskFull"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "message"),
        ({"message": "  "}, "message"),
        ({"message": 5}, "message"),
        ({"message": "x", "recipients": []}, "recipients"),
        ({"message": "x", "recipients": [True]}, "recipients"),
        ({"message": "x", "id": ["a"]}, "id"),
    ],
)
def test_malformed_notify_payloads(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(KpnValidationError) as info:
        parse_notify_payload(payload)
    assert info.value.field == field


def test_notify_identity_by_id_or_content() -> None:
    a = parse_notify_payload({"message": "x", "id": "run-1"})
    b = parse_notify_payload({"message": "different", "id": "run-1"})
    c = parse_notify_payload({"message": "x"}, idempotency_key="run-1")
    d = parse_notify_payload({"message": "x"})
    assert a.identity == b.identity == c.identity != d.identity
    assert parse_notify_payload(
        {"message": "a,b", "recipients": "0612345678, 0687654321"}
    ).recipients == (
        "0612345678",
        "0687654321",
    )


# --------------------------------------------------------------------------- text


def test_default_text_for_one_alert_and_a_group() -> None:
    one = parse_alert_payload(am_payload(am_alert()), "alertmanager")
    assert render(one, one.alerts) == "[FIRING] DiskFull (critical): Disk /var is 95% full"
    group = parse_alert_payload(
        am_payload(
            am_alert(labels={"instance": "web1"}),
            am_alert(labels={"instance": "web2"}),
            am_alert(labels={"instance": "web3"}, status="resolved"),
        ),
        "alertmanager",
    )
    assert render(group, group.alerts) == (
        "[FIRING:2] DiskFull (critical): Disk /var is 95% full +1 more, 1 resolved"
    )
    resolved = parse_alert_payload(am_payload(am_alert(status="resolved")), "alertmanager")
    assert render(resolved, resolved.alerts).startswith("[RESOLVED] DiskFull")


def test_custom_template_fields_and_missing_labels() -> None:
    note = parse_alert_payload(am_payload(am_alert(labels={"team": "db"})), "alertmanager")
    text = render(
        note, note.alerts, "{STATUS} {labels[team]}/{labels[nope]}/{unknown} {count}x {instance}"
    )
    assert text == "FIRING db// 1x web1"


def test_default_text_fits_in_max_parts_even_for_huge_groups() -> None:
    alerts = [am_alert(summary="S" * 500, labels={"instance": f"h{i}"}) for i in range(200)]
    note = parse_alert_payload(am_payload(*alerts), "alertmanager")
    text = render(note, note.alerts)
    assert "+199 more" in text
    # What matters comes first, so the client's cut at max_parts keeps it (see test_serve_http).
    assert text.startswith("[FIRING:200] DiskFull (critical): SSS")
    assert analyse(text).parts > 3  # long enough that the cut is really needed


# --------------------------------------------------------------------------- routing


def _routes(**receivers: Any) -> tuple[Any, ...]:
    raw = base(receivers=receivers)
    return split_config(raw)[1].routes


def test_route_by_receiver_name_then_default_then_fallback() -> None:
    routes = _routes(oncall=["0687654321"], default=["0611111111"])
    by_name = parse_alert_payload(am_payload(receiver="oncall"), "alertmanager")
    jobs = route_notification(by_name, routes, [ALICE_PLUS])
    assert [j.recipients for j in jobs] == [(BOB_PLUS,)]
    other = parse_alert_payload(am_payload(receiver="someone-else"), "alertmanager")
    assert [j.recipients for j in route_notification(other, routes, [ALICE_PLUS])] == [
        (CAROL_PLUS,)
    ]
    no_routes = route_notification(other, (), [ALICE_PLUS])
    assert [j.recipients for j in no_routes] == [(ALICE_PLUS,)]
    assert route_notification(other, (), []) == []


def test_label_matchers_split_a_group_per_recipient() -> None:
    routes = _routes(
        db={"recipients": ["0687654321"], "match": {"team": "db"}},
        web={"recipients": ["0611111111"], "match_re": {"instance": "web[0-9]+"}},
        oncall=["0612345678"],
    )
    note = parse_alert_payload(
        am_payload(
            am_alert("DbDown", labels={"team": "db", "instance": "db1"}),
            am_alert("WebDown", labels={"team": "web", "instance": "web7"}),
            am_alert("Other", labels={"team": "x", "instance": "x1"}),
            receiver="oncall",
        ),
        "alertmanager",
    )
    jobs = {
        j.recipients: [a.labels["alertname"] for a in j.alerts]
        for j in route_notification(note, routes, [])
    }
    assert jobs == {(BOB_PLUS,): ["DbDown"], (CAROL_PLUS,): ["WebDown"], (ALICE_PLUS,): ["Other"]}


# --------------------------------------------------------------------------- fuzz

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_ALERTISH = st.fixed_dictionaries(
    {
        "version": st.sampled_from(["4", 4, "1", None]),
        "alerts": st.lists(
            st.dictionaries(
                st.sampled_from(["status", "labels", "annotations", "startsAt", "fingerprint"]),
                _JSON,
            ),
            max_size=3,
        ),
    },
    optional={"status": _JSON, "receiver": _JSON, "commonLabels": _JSON, "truncatedAlerts": _JSON},
)


@settings(max_examples=examples(150))
@given(payload=_JSON | _ALERTISH)
def test_any_json_is_parsed_or_refused_with_a_validation_error(payload: Any) -> None:
    for source in ("alertmanager", "grafana"):
        try:
            note = parse_alert_payload(payload, source)
        except KpnValidationError as err:
            assert err.field and "\n" not in str(err)
            continue
        assert note.alerts and render(note, note.alerts)
    try:
        parse_notify_payload(payload)
    except KpnValidationError as err:
        assert err.field
