"""Fuzzing every webhook payload parser, in-process and through `kpn-sms serve` on
127.0.0.1: never an unhandled exception, never an HTTP 500 (nor the 503 that serve's
middleware makes of an unexpected exception)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import (
    DLR_FIELDS,
    INBOUND_FIELDS,
    InboundAssembler,
    InboundPart,
    parse_delivery_receipt,
    parse_inbound,
)
from kpn_sms_notify.server.alerts import (
    Route,
    parse_alert_payload,
    parse_notify_payload,
    route_notification,
)
from kpn_sms_notify.server.text import render

from .support import PATH_SECRET, SERVE_TOKEN, ServeThread, serve_raw

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["1", "true", "0", "", "3", "-1"]),
)
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def params(fields: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """Webhook parameters: the wire names with odd values, plus junk keys."""
    keys = st.one_of(st.sampled_from(sorted(fields)), st.text(max_size=8))
    return st.dictionaries(
        keys, st.one_of(scalar, st.lists(scalar, max_size=2), json_value), max_size=12
    )


@st.composite
def inbound_like(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly well-formed inbound texts, with a field or two bent."""
    data: dict[str, Any] = {
        "msisdn": draw(st.sampled_from(["31612345678", "+31612345678", "KPN", ""])),
        "to": "3197012345678",
        "messageId": draw(st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=18)),
        "text": draw(st.text(max_size=200)),
        "type": draw(st.sampled_from(["text", "unicode", "binary", "TEXT", "mms"])),
    }
    if draw(st.booleans()):
        data.update(
            {
                "concat": draw(st.sampled_from(["true", "false", "1", "yes", "x"])),
                "concat-ref": draw(st.sampled_from(["1", "2", "77"])),
                "concat-total": draw(st.integers(0, 4).map(str)),
                "concat-part": draw(st.integers(0, 5).map(str)),
            }
        )
    data.update(draw(params(INBOUND_FIELDS)))
    return data


@st.composite
def messages_api_like(draw: st.DrawFn) -> dict[str, Any]:
    """The Messages API's inbound text or status, with a field or two bent."""
    data: dict[str, Any] = {
        "message_uuid": draw(st.one_of(st.uuids().map(str), st.text(max_size=70))),
        "to": draw(st.sampled_from(["3197012345678", "+31612345678", "KPNAlert", ""])),
        "from": draw(st.sampled_from(["31612345678", "+31612345678", "KPN", ""])),
        "timestamp": draw(
            st.one_of(
                st.datetimes().map(lambda t: t.isoformat() + "Z"),
                st.sampled_from(["2020-01-01T14:00:00.000Z", "0001-01-01T00:00:00+14:00", "x"]),
            )
        ),
        "channel": draw(st.sampled_from(["sms", "SMS", "whatsapp", "", 7])),
    }
    if draw(st.booleans()):  # an inbound text
        data.update(
            {
                "message_type": draw(st.sampled_from(["text", "image", ""])),
                "text": draw(st.text(max_size=200)),
                "sms": draw(
                    st.one_of(
                        json_value,
                        st.fixed_dictionaries(
                            {
                                "num_messages": st.sampled_from(["1", "2", 3]),
                                "keyword": st.text(max_size=10),
                            }
                        ),
                    )
                ),
            }
        )
    else:  # a status
        data.update(
            {
                "status": draw(
                    st.sampled_from(
                        ["submitted", "delivered", "read", "rejected", "undeliverable", "<b>", ""]
                    )
                ),
                "usage": draw(
                    st.one_of(
                        json_value,
                        st.fixed_dictionaries(
                            {"price": st.sampled_from(["0.0333", 0.07]), "currency": st.just("EUR")}
                        ),
                    )
                ),
                "error": draw(
                    st.one_of(
                        json_value,
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "code": st.one_of(st.integers(-5, 10**9), st.text(max_size=6)),
                                "title": st.one_of(st.text(max_size=6), st.integers()),
                                "reason": st.text(max_size=40),
                                "detail": st.text(max_size=40),
                            },
                        ),
                    )
                ),
            }
        )
    if draw(st.booleans()):
        data[draw(st.sampled_from(sorted(data)))] = draw(json_value)
    return data


@given(st.one_of(params(INBOUND_FIELDS), inbound_like(), messages_api_like(), json_value))
def test_parse_inbound(raw: Any) -> None:
    try:
        part = parse_inbound(raw)
    except KpnValidationError as err:
        assert "\n" not in str(err) and err.field
        return
    assert part.message_id and part.msisdn and part.to
    assert InboundPart.from_dict(part.to_dict()) == part


@given(st.one_of(params(DLR_FIELDS), messages_api_like(), json_value))
def test_parse_delivery_receipt(raw: Any) -> None:
    try:
        receipt = parse_delivery_receipt(raw)
    except KpnValidationError as err:
        assert "\n" not in str(err) and err.field
        return
    json.dumps(receipt.to_dict())  # a sink can always store it
    assert receipt.outcome.value in ("delivered", "failed", "pending", "unknown")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1", "2"]),  # concat-ref
            st.integers(1, 3),  # total
            st.integers(1, 3),  # part number
            st.integers(0, 30),
        ),  # messageId
        max_size=25,
    )
)
def test_assembler_loses_nothing_and_doubles_nothing(
    feeds: list[tuple[str, int, int, int]],
) -> None:
    """Redeliveries, gaps, odd totals: each first-seen part comes out exactly once, in a
    completed text or in one handed out incomplete after the wait (as serve does)."""
    clock = FakeClock()
    assembler = InboundAssembler(max_pending=2, ttl=60, clock=clock)
    out: list[Any] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for ref, total, part_no, mid in feeds:
        part_no = min(part_no, total)
        raw = {
            "msisdn": "31612345678",
            "to": "3197012345678",
            "messageId": f"id{mid}",
            "text": f"<{ref}.{part_no}>",
            "concat": "true",
            "concat-ref": ref,
            "concat-total": str(total),
            "concat-part": str(part_no),
        }
        part = parse_inbound(raw)
        out.extend(assembler.take_expired())
        message = assembler.feed(part)
        if message is not None:
            out.append(message)
        first_seen.setdefault(part.message_id, (ref, part_no))
        clock.now += 1
    clock.now += 3600
    out.extend(assembler.take_expired())
    ids = [mid for message in out for mid in message.message_ids]
    assert len(ids) == len(set(ids)), "a part came out twice"
    assert set(ids) <= set(first_seen)
    # A messageId not handed out was a resend of a part number already kept for that text.
    kept = {(first_seen[m]) for m in ids}
    for mid, where in first_seen.items():
        assert mid in ids or where in kept or _resend(where, feeds), (mid, where)
    assert assembler.pending_count == 0


def _resend(where: tuple[str, int], feeds: list[tuple[str, int, int, int]]) -> bool:
    return sum(1 for ref, total, p, _ in feeds if (ref, min(p, total)) == where) > 1


# ------------------------------------------------------------------ alert payloads

labels = st.dictionaries(
    st.sampled_from(["alertname", "severity", "instance", "job", "x"]),
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(["{0}", "{labels}", "{__class__}", "%s", "{alertname!r:>99999}", "}{"]),
    ),
    max_size=4,
)


@st.composite
def alertmanager_like(draw: st.DrawFn) -> dict[str, Any]:
    alert = st.fixed_dictionaries(
        {
            "status": st.sampled_from(["firing", "resolved", "FIRING", "pending"]),
            "labels": labels,
            "annotations": labels,
        },
        optional={
            "startsAt": st.text(max_size=25),
            "endsAt": st.text(max_size=25),
            "fingerprint": st.text(max_size=16),
            "generatorURL": st.text(max_size=20),
        },
    )
    payload = draw(
        st.fixed_dictionaries(
            {"alerts": st.lists(alert, max_size=4)},
            optional={
                "version": st.sampled_from(["4", 4, "3", None]),
                "status": st.sampled_from(["firing", "resolved", "x"]),
                "receiver": st.sampled_from(["oncall", "default", "", "nobody"]),
                "groupKey": st.text(max_size=20),
                "groupLabels": labels,
                "commonLabels": labels,
                "commonAnnotations": labels,
                "externalURL": st.text(max_size=20),
                "truncatedAlerts": st.one_of(st.integers(-1, 3), st.text(max_size=2)),
            },
        )
    )
    if draw(st.booleans()):
        payload[draw(st.text(max_size=6))] = draw(json_value)
    return payload


ROUTES = (
    Route("oncall", ("31612345678",)),
    Route("critical", ("31687654321",), match={"severity": "critical"}),
    Route(
        "web",
        ("31655512345",),
        match_re={"instance": __import__("re").compile("web.*")},
        template="{STATUS} {labels[job]} {annotations[summary]}",
    ),
)


@given(
    st.one_of(alertmanager_like(), json_value),
    st.sampled_from(["alertmanager", "grafana"]),
    st.sampled_from(
        [None, "{STATUS}: {alertname} {labels[instance]}{more}", "{summary}{description}"]
    ),
)
def test_alert_payload_parse_route_render(payload: Any, source: str, template: str | None) -> None:
    try:
        notification = parse_alert_payload(payload, source)
    except KpnValidationError as err:
        assert "\n" not in str(err) and err.field
        return
    for job in route_notification(notification, ROUTES, ["31612345678"]):
        text = render(notification, job.alerts, job.template or template)
        assert text.strip(), "an empty SMS"
    assert notification.identity == parse_alert_payload(payload, source).identity


@given(
    st.one_of(
        st.fixed_dictionaries(
            {"message": st.one_of(st.text(max_size=30), scalar)},
            optional={
                "title": scalar,
                "recipients": st.one_of(st.lists(scalar, max_size=3), scalar),
                "id": scalar,
            },
        ),
        json_value,
    ),
    st.one_of(st.none(), st.text(max_size=10)),
)
def test_notify_payload(payload: Any, key: str | None) -> None:
    try:
        notice = parse_notify_payload(payload, key)
    except KpnValidationError as err:
        assert "\n" not in str(err) and err.field
        return
    assert notice.message.strip() and len(notice.identity) == 32


# ------------------------------------------------------------------ through serve, over HTTP


@pytest.fixture(scope="module")
def serve_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz-serve")
    with Emulator() as emu:
        raw = serve_raw(
            emu.url or "", tmp, client={"recipients": ["0612345678"], "rate_limit": 1000}
        )
        with ServeThread(raw) as server:
            yield server.url


ALLOWED = {200, 400, 401, 404, 405, 413}


def check_answer(answer: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    assert answer.status_code in ALLOWED | {503}, (answer.status_code, answer.text)
    if answer.status_code == 503:  # only a transient SMS outcome may ask for a retry
        body = answer.json()
        assert body.get("error") != "internal error", answer.text
        assert body.get("status") == "retry", answer.text
    if answer.status_code == 400:
        reason = answer.json()["reason"]
        assert reason and "\n" not in reason
    assert "unexpected error" not in caplog.text, caplog.text
    assert "Traceback" not in answer.text


AUTH = {"Authorization": f"Bearer {SERVE_TOKEN}"}


@settings(max_examples=examples(150))
@given(
    st.sampled_from(["/alertmanager", "/grafana", "/notify"]),
    st.one_of(
        alertmanager_like(),
        json_value,
        st.fixed_dictionaries(
            {"message": st.text(max_size=30)},
            optional={"recipients": st.lists(scalar, max_size=2), "title": scalar},
        ),
    ),
)
def test_alert_endpoints_never_fail(
    serve_url: str, http: httpx.Client, caplog: pytest.LogCaptureFixture, path: str, payload: Any
) -> None:
    caplog.set_level(logging.ERROR)
    caplog.clear()
    answer = http.post(serve_url + path, headers=AUTH, content=json.dumps(payload).encode())
    check_answer(answer, caplog)


@settings(max_examples=examples(100))
@given(
    st.sampled_from(
        [
            "/alertmanager",
            "/grafana",
            "/notify",
            f"/inbound/{PATH_SECRET}",
            f"/delivery/{PATH_SECRET}",
        ]
    ),
    st.binary(max_size=300),
    st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
            "application/xml",
            "",
            "application/octet-stream",
        ]
    ),
)
def test_raw_bodies_never_fail(
    serve_url: str,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: bytes,
    ctype: str,
) -> None:
    caplog.set_level(logging.ERROR)
    caplog.clear()
    headers = {**AUTH, "Content-Type": ctype} if ctype else dict(AUTH)
    check_answer(http.post(serve_url + path, headers=headers, content=body), caplog)


@settings(max_examples=examples(150))
@given(
    st.sampled_from(["inbound", "delivery"]),
    st.sampled_from(["get", "form", "json", "unlabelled json"]),
    st.one_of(inbound_like(), messages_api_like(), params(INBOUND_FIELDS), params(DLR_FIELDS)),
)
def test_inbound_and_delivery_never_fail(
    serve_url: str,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    how: str,
    data: dict[str, Any],
) -> None:
    caplog.set_level(logging.ERROR)
    caplog.clear()
    url = f"{serve_url}/{kind}/{PATH_SECRET}"
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    if how == "get":
        answer = http.get(url, params=flat)
    elif how == "form":
        answer = http.post(url, data=flat)
    else:  # Vonage's own JSON POSTs may carry no Content-Type at all
        labelled = {"Content-Type": "application/json"} if how == "json" else {}
        answer = http.post(url, content=json.dumps(data).encode(), headers=labelled)
    check_answer(answer, caplog)


@pytest.mark.parametrize("kind", ["inbound", "delivery"])
def test_multipart_without_boundary_is_a_400(
    serve_url: str, http: httpx.Client, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Found by the fuzzer: a multipart Content-Type without its boundary."""
    caplog.set_level(logging.ERROR)
    answer = http.post(
        f"{serve_url}/{kind}/{PATH_SECRET}",
        content=b"msisdn=1",
        headers={"Content-Type": "multipart/form-data"},
    )
    assert answer.status_code == 400, answer.text
    check_answer(answer, caplog)
