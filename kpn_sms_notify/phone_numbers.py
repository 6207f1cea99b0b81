"""KPN's Phone Numbers API (`/communication/nexmo/phone-numbers`), without I/O: the checked
inputs, the requests for `account/numbers`, `number/search`, `number/buy` and `number/cancel`,
and their answers read into `VirtualNumber` and `NumberPage`. Both clients drive these.

The API is only open to apps in production: the gateway's refusal of an app without it
becomes a `KpnProductError` that says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import (
    KpnApiError,
    KpnConnectionError,
    KpnProductError,
    KpnSmsError,
    KpnValidationError,
)
from .models import Token
from .numbers import country_code, country_of, from_wire, mask_number, wire_number
from .protocol import NUMBERS_PATH, ApiRequest, auth_headers, error_from_answer, parse_simple

Match = Literal["start", "anywhere", "end"]
# The API's search_pattern: where the pattern must match.
MATCHES: dict[str, str] = {"start": "0", "anywhere": "1", "end": "2"}
FEATURES = ("SMS", "VOICE")
NUMBER_TYPES = ("landline", "landline-toll-free", "mobile-lvn")
MAX_PAGE_SIZE = 100
PRODUCTION_ADVICE = (
    "this app is not in production for the Phone Numbers API: take the app with the "
    "Phone Numbers API to production in KPN's API Store"
)


@dataclass(frozen=True, slots=True)
class VirtualNumber:
    """A number the account owns, or one for sale. `number` is canonical E.164 with "+";
    `inbound_url` is where its inbound texts go (moHttpUrl), when set."""

    number: str
    country: str
    type: str | None = None
    features: tuple[str, ...] = ()
    inbound_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "country": self.country,
            "type": self.type,
            "features": list(self.features),
            "inbound_url": self.inbound_url,
        }


@dataclass(frozen=True, slots=True)
class NumberPage:
    """One page of a listing or a search: `count` is the total that match, of which this page
    holds `numbers`."""

    count: int
    numbers: tuple[VirtualNumber, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "numbers": [n.to_dict() for n in self.numbers]}


# ---------------------------------------------------------------- inputs


def page_params(*, pattern: str | None, match: str, size: int, index: int) -> dict[str, str]:
    """The query of a listing or search page; raises KpnValidationError naming the field."""
    params: dict[str, str] = {}
    if match not in MATCHES:
        raise KpnValidationError(
            f"match: {match!r} is not one of {', '.join(MATCHES)}", field="match", value=match
        )
    if pattern is not None:
        params["pattern"] = _pattern(pattern)
        params["search_pattern"] = MATCHES[match]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise KpnValidationError(
            f"size: {size!r} is not a page size from 1 to {MAX_PAGE_SIZE}", field="size", value=size
        )
    if isinstance(index, bool) or not isinstance(index, int) or index < 1:
        raise KpnValidationError(
            f"index: {index!r} is not a page number (1 is the first)", field="index", value=index
        )
    params["size"], params["index"] = str(size), str(index)
    return params


def _pattern(raw: object) -> str:
    """Digits to look for in numbers (international, without "+")."""
    text = raw.strip().removeprefix("+") if isinstance(raw, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise KpnValidationError(
            f"pattern: {raw!r} is not a number pattern: use 1 to 15 digits, such as 3197",
            field="pattern",
            value=raw,
        )
    return text


def search_params(
    *,
    country: str,
    features: Iterable[str],
    number_type: str | None,
    pattern: str | None,
    match: str,
    size: int,
    index: int,
) -> dict[str, str]:
    """The query of `number/search`; raises KpnValidationError naming the field."""
    params = {"country": country_code(country)}
    wanted = [
        str(f).strip().upper() for f in ([features] if isinstance(features, str) else features)
    ]
    bad = [f for f in wanted if f not in FEATURES]
    if bad or not wanted:
        shown = bad[0] if bad else ""
        raise KpnValidationError(
            f"features: {shown!r} is not one of {', '.join(FEATURES)}",
            field="features",
            value=shown,
        )
    params["features"] = ",".join(dict.fromkeys(wanted))
    if number_type is not None:
        if number_type not in NUMBER_TYPES:
            raise KpnValidationError(
                f"type: {number_type!r} is not one of {', '.join(NUMBER_TYPES)}",
                field="type",
                value=number_type,
            )
        params["type"] = number_type
    params.update(page_params(pattern=pattern, match=match, size=size, index=index))
    return params


def number_country(number: str, country: str | None) -> str:
    """The country to name with a canonical `number`: the one given, else the number's own."""
    if country is not None:
        return country_code(country)
    found = country_of(number)
    if found is None:
        raise KpnValidationError(
            f"country: no country known for {mask_number(number)!r}: give it",
            field="country",
            value=None,
        )
    return found


# ---------------------------------------------------------------- requests


def list_request(base_url: str, token: Token, params: Mapping[str, str]) -> ApiRequest:
    """`GET account/numbers`: the numbers the account owns."""
    return _get(base_url, token, "/account/numbers", params)


def search_request(base_url: str, token: Token, params: Mapping[str, str]) -> ApiRequest:
    """`GET number/search`: numbers for sale."""
    return _get(base_url, token, "/number/search", params)


def change_request(
    base_url: str, token: Token, action: Literal["buy", "cancel"], *, country: str, number: str
) -> ApiRequest:
    """`POST number/buy` or `number/cancel`, form-encoded: both bill or end a rental."""
    return ApiRequest(
        "POST",
        base_url.rstrip("/") + NUMBERS_PATH + f"/number/{action}",
        data={"country": country, "msisdn": wire_number(number)},
        headers=auth_headers(token),
    )


def _get(base_url: str, token: Token, path: str, params: Mapping[str, str]) -> ApiRequest:
    headers = {k: v for k, v in auth_headers(token).items() if k != "Content-Type"}
    return ApiRequest(
        "GET", base_url.rstrip("/") + NUMBERS_PATH + path, params=dict(params), headers=headers
    )


# ---------------------------------------------------------------- answers


def parse_page(
    status_code: int, headers: Mapping[str, str], body: bytes, *, what: str
) -> NumberPage:
    """A listing or search answer: `{"count": int, "numbers": [number]}`."""
    if not 200 <= status_code < 300:
        raise numbers_error(status_code, headers, body)
    data = parse_simple(status_code, headers, body)
    raw = data.get("numbers", [])
    if not isinstance(raw, list):
        raise KpnConnectionError(f"{what} answer: numbers: expected a list, got {_shown(raw)}")
    numbers = tuple(_number(entry, f"{what} answer: numbers[{i}]") for i, entry in enumerate(raw))
    count = data.get("count", len(numbers))
    if isinstance(count, bool) or not str(count).strip().isdigit():
        raise KpnConnectionError(f"{what} answer: count: {_shown(count)} is not a number")
    return NumberPage(count=int(str(count).strip()), numbers=numbers)


def _number(entry: Any, where: str) -> VirtualNumber:
    if not isinstance(entry, dict):
        raise KpnConnectionError(f"{where}: expected an object, got {_shown(entry)}")
    msisdn = str(entry.get("msisdn", "")).strip()
    number = from_wire(msisdn)
    if not number.startswith("+"):
        raise KpnConnectionError(f"{where}.msisdn: {mask_number(msisdn)!r} is not a phone number")
    features = entry.get("features") or []
    if isinstance(features, str):
        features = features.split(",")
    url = entry.get("moHttpUrl")
    return VirtualNumber(
        number=number,
        country=str(entry.get("country") or country_of(number) or ""),
        type=str(entry["type"]) if entry.get("type") else None,
        features=tuple(str(f).strip().upper() for f in features if str(f).strip())
        if isinstance(features, list)
        else (),
        inbound_url=url if isinstance(url, str) and url else None,
    )


def parse_change(
    status_code: int, headers: Mapping[str, str], body: bytes, *, action: str, number: str
) -> None:
    """A buy or cancel answer: `{"error-code": "200", ...}`, else the refusal in plain words."""
    masked = mask_number(number)
    if not 200 <= status_code < 300:
        raise numbers_error(status_code, headers, body, subject=f"{action} {masked}")
    try:
        parse_simple(status_code, headers, body)
    except KpnApiError as err:
        raise _refused(f"{action} {masked}", err, status_code) from None


def numbers_error(
    status_code: int, headers: Mapping[str, str], body: bytes, *, subject: str = ""
) -> KpnSmsError:
    """A Phone Numbers API failure. A missing API product (on any status) or a 403 means the
    app is not in production for this API, and the message starts by saying so; Vonage's
    refusals ("method failed") name what was refused."""
    error = error_from_answer(status_code, headers, body, product_advice=PRODUCTION_ADVICE)
    prefix = f"{subject}: " if subject else ""
    if isinstance(error, KpnProductError) or status_code == 403:
        answer = str(error).removesuffix(f": {PRODUCTION_ADVICE}")
        return KpnProductError(
            f"{prefix}{PRODUCTION_ADVICE} (the gateway answered {answer})",
            code=getattr(error, "code", None),
        )
    if isinstance(error, KpnApiError) and error.code is not None and error.code.isdigit():
        return _refused(subject, error, status_code)
    return error


def _refused(subject: str, err: KpnApiError, status_code: int) -> KpnApiError:
    label = err.detail or "refused"
    prefix = f"{subject}: " if subject else ""
    return KpnApiError(
        f"{prefix}KPN refused: {label} (error-code {err.code}, HTTP {status_code})",
        http_status=status_code,
        code=err.code,
        detail=label,
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"
