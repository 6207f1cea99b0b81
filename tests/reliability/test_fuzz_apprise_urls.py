"""Fuzzing `kpnsms://` URL parsing: whatever the URL, parsing never raises, a refused URL
is refused cleanly, and an accepted one round-trips through url() and keeps its secret out
of the privacy URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import quote

import apprise
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import kpn_sms_notify.apprise_plugin  # noqa: F401  (registers kpnsms://)
from kpn_sms_notify.apprise_plugin import NotifyKpnSms

CANARY = "S3CR3T-LEAK-CANARY"
piece = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "KPNAlert",
            "0612345678",
            "+31687654321",
            "0031655512345",
            "12345",
            "a b",
            "%",
            "@",
            "/",
            "?",
            ":",
            "#",
            "K" * 12,
            "3197012345678",
        ]
    ),
)
args = st.dictionaries(
    st.sampled_from(
        [
            "to",
            "from",
            "client_id",
            "secret",
            "base_url",
            "region",
            "max_parts",
            "unicode",
            "sms_overflow",
            "rate_limit",
            "timeout",
            "retries",
            "retry_ambiguous",
            "ttl",
            "client_ref",
            "callback",
            "format",
            "overflow",
            "verify",
            "bogus",
        ]
    ),
    st.one_of(
        piece,
        st.sampled_from(
            [
                "http://127.0.0.1:9",
                "https://kpn.example",
                "NL",
                "BE",
                "3",
                "0",
                "11",
                "yes",
                "no",
                "always",
                "fail",
                "x" * 41,
            ]
        ),
    ),
    max_size=5,
)


def mostly(valid: list[str]) -> st.SearchStrategy[str]:
    """Valid values most of the time, anything now and then."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid), piece)


ids = mostly(["demo-client-id", "abc", "Client_1"])
senders = mostly(["KPNAlert", "KPN", "3197012345678", "+3197012345678", "A1"])
numbers = mostly(["0612345678", "+31687654321", "0031655512345", "31655512356", "06 1234 5678"])
GOOD = {
    "region": ["NL", "BE"],
    "max_parts": ["1", "2", "10"],
    "unicode": ["always", "never"],
    "sms_overflow": ["truncate", "fail"],
    "rate_limit": ["5", "0.5"],
    "timeout": ["3"],
    "retries": ["0", "5"],
    "retry_ambiguous": ["yes", "no"],
    "ttl": ["60000"],
    "client_ref": ["ref-1"],
    "callback": ["https://hooks.example/dlr"],
    "base_url": ["http://127.0.0.1:9", "https://api-prd.kpn.com"],
    "to": ["0687654321", "0612345678,0655512345"],
    "from": ["KPNAlert"],
}
good_args = st.lists(st.sampled_from(sorted(GOOD)), max_size=4, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: st.sampled_from(GOOD[k]) for k in keys})
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    client_id = quote(draw(ids), safe="")
    secret = quote(CANARY + draw(st.text(max_size=6)), safe="")
    sender = quote(draw(senders), safe="+")
    targets = "/".join(quote(t, safe="+") for t in draw(st.lists(numbers, max_size=3)))
    query = "&".join(
        f"{k}={quote(v, safe='')}" for k, v in draw(st.one_of(good_args, good_args, args)).items()
    )
    if draw(st.integers(0, 3)):
        return f"kpnsms://{client_id}:{secret}@{sender}/{targets}?{query}"
    return draw(
        st.sampled_from(
            [
                f"kpnsms://{sender}/{targets}?client_id={client_id}&secret={secret}&{query}",
                f"kpnsms://{client_id}@{sender}/{targets}",
                f"kpnsms://{targets}?{query}",
                f"kpnsms://:{secret}@/{targets}",
            ]
        )
    )


@pytest.fixture(scope="module", autouse=True)
def _quiet_apprise() -> Iterator[None]:
    """Refusals are expected here; the level is put back for the tests that read warnings."""
    logger = logging.getLogger("apprise")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(before)


@given(st.one_of(urls(), urls(), urls(), st.text(max_size=60).map(lambda t: "kpnsms://" + t)))
def test_parse_and_instantiate_never_raise(url: str) -> None:
    NotifyKpnSms.parse_url(url)  # must not raise
    plugin = apprise.Apprise.instantiate(url)
    event("refused" if plugin is None else "accepted")
    if plugin is None:
        return
    privacy = plugin.url(privacy=True)
    assert CANARY not in privacy and CANARY not in repr(plugin)
    again = apprise.Apprise.instantiate(plugin.url())
    assert again is not None, plugin.url(privacy=True)
    assert again.url() == plugin.url()
    assert len(again) == len(plugin) >= 1
    assert CANARY not in str(plugin.url_id())  # a hash of the identifier, never the secret
