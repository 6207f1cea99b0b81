"""inbound.body: a webhook request's parameters, read by the body's content (JSON or a form)
whatever its label, through webhook_params and decode_json."""

from __future__ import annotations

from typing import Any

import pytest

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import decode_json, query_params, webhook_params

BOM = b"\xef\xbb\xbf"


def _read(body: bytes, content_type: str | None = None, **query: str) -> dict[str, Any]:
    return webhook_params(query=list(query.items()), body=body, content_type=content_type)


def _refusal(body: bytes, content_type: str | None = None) -> KpnValidationError:
    with pytest.raises(KpnValidationError) as caught:
        _read(body, content_type)
    return caught.value


# --------------------------------------------------------------------------- the query


def test_a_name_repeated_in_the_query_keeps_every_value_in_order() -> None:
    pairs = [("a", "1"), ("b", "x"), ("a", "2"), ("a", "3")]
    assert query_params(pairs) == {"a": ["1", "2", "3"], "b": "x"}


def test_the_body_overlays_the_query() -> None:
    assert _read(b'{"text": "body"}', text="query", nonce="n1") == {"text": "body", "nonce": "n1"}
    assert _read(b"", text="query") == {"text": "query"}


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/json",
        "Application/JSON ; charset=utf-8",
        "application/json; charset=utf-8; profile=vonage",
        "application/problem+json",
    ],
)
def test_a_body_declared_as_json_must_be_json(content_type: str) -> None:
    """A form under a JSON label is refused, not read as a form."""
    err = _refusal(b"a=1", content_type)
    assert str(err) == "body: not valid JSON (Expecting value at line 1 column 1)"
    assert err.field == "body"


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/octet-stream"])
@pytest.mark.parametrize("body", [b'{"a": "1"}', b'  {"a": "1"}'])
def test_an_unlabelled_json_object_is_json(content_type: str | None, body: bytes) -> None:
    assert _read(body, content_type) == {"a": "1"}


@pytest.mark.parametrize(
    "content_type",
    [None, "", "TEXT/PLAIN", "application/octet-stream", "application/x-www-form-urlencoded"],
)
def test_an_unlabelled_body_that_is_not_json_is_a_form(content_type: str | None) -> None:
    assert _read(b"a=1&b=", content_type) == {"a": "1", "b": ""}


def test_a_form_label_on_a_json_object_still_reads_json() -> None:
    assert _read(b'{"a": 1}', "application/x-www-form-urlencoded") == {"a": 1}


@pytest.mark.parametrize(
    ("content_type", "media"),
    [
        ("text/xml", "text/xml"),
        ("Text/XML; charset=utf-8", "text/xml"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("application/jsonp", "application/jsonp"),
    ],
)
def test_any_other_label_is_refused_naming_it(content_type: str, media: str) -> None:
    err = _refusal(b"a=1", content_type)
    assert str(err) == f"body: unsupported content type {media!r}; send JSON or a form"
    assert (err.field, err.value) == ("content-type", media)


def test_an_empty_body_is_no_parameters_whatever_its_label() -> None:
    for body in (b"", b" \r\n\t", BOM, BOM + b"  \n"):
        assert _read(body, "text/xml") == {}
        assert _read(body, "application/json") == {}


# --------------------------------------------------------------------------- byte-order marks


@pytest.mark.parametrize(
    "body",
    [BOM + b'{"a": "1"}', b"\n" + BOM + b' \n{"a": "1"}', BOM + b"\n[1]"],
)
def test_a_byte_order_mark_before_json_is_dropped(body: bytes) -> None:
    if body.endswith(b"[1]"):
        assert str(_refusal(body)) == "body: expected a JSON object, got array"
    else:
        assert _read(body) == {"a": "1"}


def test_a_byte_order_mark_before_a_form_is_dropped() -> None:
    assert _read(BOM + b"  a=1", "application/x-www-form-urlencoded") == {"a": "1"}


def test_decode_json_drops_a_byte_order_mark_only_at_the_start() -> None:
    assert decode_json(BOM + b'"x"') == "x"
    with pytest.raises(KpnValidationError, match=r"^body: not valid JSON \(Expecting value"):
        decode_json(b" " + BOM + b'"x"')


# --------------------------------------------------------------------------- what JSON is


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"[]", "array"),
        (b'"text"', "string"),
        (b"true", "boolean"),
        (b"false", "boolean"),
        (b"1", "number"),
        (b"1.5", "number"),
        (b"null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_refused_naming_its_kind(body: bytes, kind: str) -> None:
    err = _refusal(body, "application/json")
    assert str(err) == f"body: expected a JSON object, got {kind}"
    assert (err.field, err.value) == ("body", None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{oops", "body: not valid JSON (Expecting property name enclosed in double quotes"),
        (b'{"a": 1\n  "b": 2}', "body: not valid JSON (Expecting ',' delimiter"),
        (b'{"a": 1}\n{"b": 2}', "body: not valid JSON (Extra data at line 2 column 1)"),
    ],
)
def test_broken_json_says_where(body: bytes, message: str) -> None:
    err = _refusal(body)
    assert str(err).startswith(message)
    assert (err.field, err.value) == ("body", None)


def test_broken_json_gives_line_and_column() -> None:
    err = _refusal(b'{"a": 1\n  "b": 2}')
    assert str(err) == "body: not valid JSON (Expecting ',' delimiter at line 2 column 3)"


def test_a_number_too_long_to_read_is_broken_json_without_a_position() -> None:
    """Python refuses integers of thousands of digits with a plain ValueError: no position."""
    err = _refusal(b'{"a": ' + b"1" * 5000 + b"}")
    assert str(err) == "body: not valid JSON (parse error at line ? column ?)"
    assert err.field == "body"


def test_json_nested_too_deeply_is_refused_on_one_line() -> None:
    err = _refusal(b"[" * 100_000, "application/json")
    assert (str(err), err.field, err.value) == (
        "body: not valid JSON (nested too deeply)",
        "body",
        None,
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"a": "\xff"}', None), (b"a=\xe9", None), (b'"\xc3"', "application/json")],
)
def test_bytes_that_are_not_utf8_are_refused(body: bytes, content_type: str | None) -> None:
    err = _refusal(body, content_type)
    assert (str(err), err.field, err.value) == ("body: not UTF-8 text", "body", None)


def test_a_form_decodes_percent_escapes_and_keeps_blank_values() -> None:
    assert _read(b"text=a%26b%3Dc&empty=&plus=a+b") == {
        "text": "a&b=c",
        "empty": "",
        "plus": "a b",
    }
