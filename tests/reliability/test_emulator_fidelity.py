"""Emulator fidelity with schemathesis: requests generated from KPN's own OpenAPI file
(tests/reliability/specs/, a copy of the published `kpn/sms-nexmo` v1.1.1), sent to the
emulator under each fault profile, and every answer checked by schemathesis against that
spec: a documented status code for the operation, a JSON content type, a body that
matches the documented schema. Across the profiles, every documented code must show up.

The emulator's own contract tests (tests/test_emulator_spec.py) drive each code by hand with
fixed forms; this file lets the spec generate the requests, literal spec included: with the
`message_count_int` knob the emulator sends `message-count` as the integer the spec types
(by default it sends the string Vonage sends, a documented deviation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis_profiles import examples  # type: ignore[import-not-found]
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

SPEC_FILE = Path(__file__).parent / "specs" / "kpn-vonage-sms-openapi.yml"
RAW = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
BASE = RAW["basePath"]  # /communication/nexmo/sms
# The two "paths" that document webhook payloads are not calls (their path is a URL).
SCHEMA = schemathesis.openapi.from_dict(RAW).include(path_regex=r"^/(send|register)$")


@SCHEMA.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half the bodies get the values the spec asks for in prose (E.164 digits, an https
    URL), so accepted answers are generated too, not only refusals of random strings."""
    if not isinstance(body, dict):
        return st.just(body)
    realistic = {**body, "to": "31612345678"}
    if "callback_url" in body:
        realistic["callback_url"] = "https://example.org/inbound"
    return st.sampled_from([body, realistic])


CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]

# name -> knobs; each profile is one way the gateway answers (faults included).
PROFILES: dict[str, dict[str, Any]] = {
    "normal": {},
    # What Vonage sends today: UUID ids, a long text partly accepted, the MT-limit throttle.
    "vonage-today": {
        "message_id_format": "uuid",
        "partial_status": {"31612345678": "1"},
        "throttle_text": "mt_limit",
    },
    "bad-bearer": {},  # the request carries a made-up token
    "quota-exhausted": {"quota_limit": 0},
    "forbidden": {"forced_http": {f"{BASE}/send": 403, f"{BASE}/register": 403}},
    "not-found": {"forced_http": {f"{BASE}/send": 404, f"{BASE}/register": 404}},
    "server-error": {"forced_http": {f"{BASE}/send": 500, f"{BASE}/register": 500}},
    "unavailable": {"forced_http": {f"{BASE}/send": 503, f"{BASE}/register": 503}},
    "random-errors": {
        "error_rate": 0.7,
        "error_body": "kpn",
        "seed": 7,
        "error_status": [400, 401, 403, 404, 429, 500, 503],
    },
    "throttled-status-1": {"rate_limit": 0.5, "rate_limit_mode": "status1"},
    "throttled-apigee-500": {"rate_limit": 0.5, "rate_limit_mode": "quota500"},
    "no-sms-product": {"api_products": ["phone-numbers-nexmo"]},
}
DEFAULT_KNOBS: dict[str, Any] = {
    "quota_limit": 100000,
    "forced_http": {},
    "error_rate": 0.0,
    "rate_limit": None,
    "rate_limit_mode": "http429",
    "seed": None,
    "api_products": ["sms-nexmo", "phone-numbers-nexmo"],
}
DEFAULT_KNOBS.update(message_id_format="hex", partial_status={}, throttle_text="wait")
SEEN: dict[str, set[int]] = defaultdict(set)  # operation path -> status codes answered


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Emulator, str]]:
    with Emulator(message_count_int=True) as emu:
        answer = httpx.post(
            f"{emu.url}/oauth/client_credential/accesstoken",
            params={"grant_type": "client_credentials"},
            data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
            trust_env=False,
        )
        yield emu, answer.json()["access_token"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
@SCHEMA.parametrize()
@settings(max_examples=examples(25))
def test_answers_match_the_spec(
    case: schemathesis.Case, profile: str, gateway: tuple[Emulator, str]
) -> None:
    emulator, token = gateway
    emulator.configure(**{**DEFAULT_KNOBS, **PROFILES[profile]})
    bearer = "made-up-token" if profile == "bad-bearer" else token
    response = case.call(
        base_url=f"{emulator.url}{BASE}", headers={"Authorization": f"Bearer {bearer}"}
    )
    if case.method.upper() != "POST":
        # schemathesis also tries other methods on each path: KPN's generic 405, unless a
        # gateway-level fault (forced status, quota, bearer) answers first.
        body = response.json()
        assert response.status_code in {405, 401, 403, 404, 429, 500, 503}, response.text
        assert "fault" in body or set(body) == {
            "transactionId",
            "status",
            "name",
            "message",
            "info",
        }, body
        return
    case.validate_response(response, checks=CHECKS)
    SEEN[case.operation.path].add(response.status_code)


# One valid and one empty form per operation: what a profile answers to each.
PROBES = {
    "/send": ({"from": "KPNAlert", "to": "31612345678", "text": "probe"}, {}),
    "/register": ({"to": "31612345678", "callback_url": "https://example.org/inbound"}, {}),
}


def test_every_documented_code_was_answered(gateway: tuple[Emulator, str]) -> None:
    """Every documented code is answered under the profiles: fixed probes through each
    deterministic profile, so the check holds whatever ran before (or alone); with the
    generated tests in the same run, their codes join (and must be documented too)."""
    emulator, token = gateway
    probed: dict[str, set[int]] = defaultdict(set)
    for profile, knobs in PROFILES.items():
        if "seed" in knobs or "rate_limit" in knobs:
            continue  # random or paced: the generated tests cover those
        emulator.configure(**{**DEFAULT_KNOBS, **knobs})
        bearer = "made-up-token" if profile == "bad-bearer" else token
        for path, forms in PROBES.items():
            for form in forms:
                answer = httpx.post(
                    f"{emulator.url}{BASE}{path}",
                    data=form,
                    headers={"Authorization": f"Bearer {bearer}"},
                    timeout=10,
                    trust_env=False,
                )
                probed[path].add(answer.status_code)
    emulator.configure(**DEFAULT_KNOBS)
    for path in ("/send", "/register"):
        documented = {int(code) for code in RAW["paths"][path]["post"]["responses"]}
        seen = probed[path] | SEEN[path]
        assert seen == documented, (path, sorted(seen), sorted(documented))


# ------------------------------------------------------------------ phone numbers (OAS 3.0)

NUMBERS_FILE = SPEC_FILE.with_name("kpn-vonage-phone-numbers-openapi.yml")
NUMBERS_RAW = yaml.safe_load(NUMBERS_FILE.read_text(encoding="utf-8"))
NUMBERS_BASE = "/communication/nexmo/phone-numbers"
NUMBERS_SCHEMA = schemathesis.openapi.from_dict(NUMBERS_RAW)
# KPN's generic return codes (facts §2.2): the phone-numbers spec documents only 200.
GENERIC = {400, 401, 403, 404, 405, 412, 429, 500, 502, 503}
NUMBER_SEEN: dict[str, set[int]] = defaultdict(set)


@pytest.fixture(scope="module")
def numbers_gateway() -> Iterator[tuple[Emulator, str]]:
    """An emulator of its own: a wedged one must not take the SMS tests down with it."""
    with Emulator() as emu:
        answer = httpx.post(
            f"{emu.url}/oauth/client_credential/accesstoken",
            params={"grant_type": "client_credentials"},
            data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
            trust_env=False,
        )
        yield emu, answer.json()["access_token"]


@NUMBERS_SCHEMA.hook
def flatmap_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
    """Most searches ask for a real country, so listings come back too; the plain
    `country=NL` one is always valid, so every run sees a 200 whatever else is generated."""
    if not isinstance(query, dict) or "country" not in query:
        return st.just(query)
    return st.sampled_from([query, {**query, "country": "NL"}, {"country": "NL"}])


@NUMBERS_SCHEMA.hook("flatmap_body")
def owned_number(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half the changes name the account's own virtual number, so they can succeed."""
    if not isinstance(body, dict):
        return st.just(body)
    return st.sampled_from(
        [body, {**body, "country": "NL", "msisdn": "3197012345678", "moHttpUrl": ""}]
    )


def _own_again(emulator: Emulator, msisdn: str) -> None:
    with emulator.state.lock:
        if msisdn not in emulator.state.owned:
            emulator.state.owned.append(msisdn)


@pytest.mark.parametrize("profile", ["normal", "bad-bearer", "quota-exhausted"])
@NUMBERS_SCHEMA.parametrize()
@settings(max_examples=examples(20))
def test_phone_numbers_answers_match_the_spec(
    case: schemathesis.Case, profile: str, numbers_gateway: tuple[Emulator, str]
) -> None:
    emulator, token = numbers_gateway
    emulator.configure(**{**DEFAULT_KNOBS, **PROFILES[profile]})
    bearer = "made-up-token" if profile == "bad-bearer" else token
    response = case.call(
        base_url=f"{emulator.url}{NUMBERS_BASE}",
        timeout=5,
        headers={"Authorization": f"Bearer {bearer}"},
    )
    NUMBER_SEEN[f"{case.method.upper()} {case.operation.path}"].add(response.status_code)
    if case.operation.path == "/number/cancel" and response.status_code == 200:
        _own_again(emulator, "3197012345678")  # later generated changes may name it again
    if response.status_code == 200:
        case.validate_response(
            response, checks=[response_schema_conformance, content_type_conformance]
        )
        return
    body = response.json()
    if response.status_code == 420:  # Vonage's Numbers API: "method failed" (a refusal)
        assert set(body) == {"error-code", "error-code-label"} and body["error-code"] == "420"
        return
    assert response.status_code in GENERIC, (response.status_code, response.text[:200])
    assert "fault" in body or set(body) == {"transactionId", "status", "name", "message", "info"}, (
        body
    )


def test_every_phone_numbers_operation_answered_200(
    numbers_gateway: tuple[Emulator, str],
) -> None:
    """Every operation can answer 200: one fixed valid request each (so the check holds
    whatever ran before, or alone), joined by what the generated tests saw."""
    emulator, token = numbers_gateway
    emulator.configure(**DEFAULT_KNOBS)
    seen: dict[str, set[int]] = defaultdict(set, {k: set(v) for k, v in NUMBER_SEEN.items()})
    own = "3197012345678"
    with httpx.Client(
        base_url=f"{emulator.url}{NUMBERS_BASE}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        trust_env=False,
    ) as http:
        found = http.get("/number/search", params={"country": "NL"})
        seen["GET /number/search"].add(found.status_code)
        seen["GET /account/numbers"].add(http.get("/account/numbers").status_code)
        update = {"country": "NL", "msisdn": own, "moHttpUrl": ""}
        seen["POST /number/update"].add(http.post("/number/update", data=update).status_code)
        free = next(n["msisdn"] for n in found.json()["numbers"] if n["msisdn"] != own)
        bought = http.post("/number/buy", data={"country": "NL", "msisdn": free})
        seen["POST /number/buy"].add(bought.status_code)
        cancelled = http.post("/number/cancel", data={"country": "NL", "msisdn": free})
        seen["POST /number/cancel"].add(cancelled.status_code)
    for path, ops in NUMBERS_RAW["paths"].items():
        for method in (m for m in ops if m in ("get", "post")):
            assert 200 in seen[f"{method.upper()} {path}"], (method, path, dict(seen))


@pytest.mark.parametrize(("op", "msisdn"), [("buy", "3197012345678"), ("cancel", "31600000000")])
def test_refused_number_change_answers_and_the_emulator_lives_on(op: str, msisdn: str) -> None:
    """Found by the generated requests: buying a number the account already owns (or
    cancelling one it does not) must be answered, and the emulator must go on answering."""
    with (
        Emulator() as emu,
        httpx.Client(base_url=emu.url or "", timeout=3, trust_env=False) as http,
    ):
        token = http.post(
            "/oauth/client_credential/accesstoken",
            params={"grant_type": "client_credentials"},
            data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        try:
            refused = http.post(
                f"{NUMBERS_BASE}/number/{op}",
                headers=auth,
                data={"country": "NL", "msisdn": msisdn},
            )
        except httpx.ReadTimeout:
            pytest.fail(f"number/{op} of {msisdn} was never answered")
        assert refused.status_code == 420 and refused.json()["error-code"] == "420"
        after = http.get(f"{NUMBERS_BASE}/account/numbers", headers=auth)
        assert after.status_code == 200
