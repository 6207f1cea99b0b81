"""Virtual numbers on KPN's Phone Numbers API through both clients, against the emulator over
127.0.0.1: list, search, buy, cancel, refusals in plain words, bad input before any request."""

from __future__ import annotations

import json

import pytest
from conftest import WebhookReceiver  # type: ignore[import-not-found]

from kpn_sms_notify import KpnSms, KpnSmsSync
from kpn_sms_notify.emulator import (
    DEFAULT_VIRTUAL_NUMBER,
    EMU_CLIENT_ID,
    EMU_CLIENT_SECRET,
    Emulator,
)
from kpn_sms_notify.errors import (
    KpnApiError,
    KpnConnectionError,
    KpnProductError,
    KpnValidationError,
)
from kpn_sms_notify.models import Token
from kpn_sms_notify.phone_numbers import (
    PRODUCTION_ADVICE,
    NumberPage,
    VirtualNumber,
    change_request,
    parse_page,
    search_params,
    search_request,
)

OWNED = "+" + DEFAULT_VIRTUAL_NUMBER
FOR_SALE = "+3197010900003"  # the emulator's fourth Dutch number for sale
NUMBERS = "/communication/nexmo/phone-numbers"


def client(url: str) -> KpnSms:
    return KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert")


async def test_list_search_buy_cancel(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        owned = await sms.list_numbers()
        assert owned == NumberPage(
            count=1,
            numbers=(
                VirtualNumber(
                    number=OWNED, country="NL", type="mobile-lvn", features=("SMS", "VOICE")
                ),
            ),
        )
        found = await sms.search_numbers(country="nl", pattern="+3197010900", size=5)
        assert found.count == 20 and len(found.numbers) == 5
        assert [n.number for n in found.numbers][3] == FOR_SALE
        assert all(n.country == "NL" and "SMS" in n.features for n in found.numbers)

        assert await sms.buy_number("097010900003") == FOR_SALE  # national form, region NL
        assert [n.number for n in (await sms.list_numbers()).numbers] == [OWNED, FOR_SALE]
        assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER, FOR_SALE[1:]]  # wire: no "+"
        # A number already rented is not for sale any more.
        again = await sms.search_numbers(pattern="3197010900003")
        assert again.count == 0 and again.numbers == ()

        assert await sms.cancel_number(FOR_SALE) == FOR_SALE
        assert (await sms.list_numbers()).count == 1
    assert emulator.counters["token_requests"] == 1


async def test_listing_pages_and_patterns(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(virtual_numbers=[f"31970100000{i:02d}" for i in range(25)])
    async with client(emulator_url) as sms:
        page3 = await sms.list_numbers(size=10, index=3)
        assert page3.count == 25 and page3.numbers[0].number == "+3197010000020"
        assert len(page3.numbers) == 5
        ends = await sms.list_numbers(pattern="07", match="end")
        assert [n.number for n in ends.numbers] == ["+3197010000007"]
        anywhere = await sms.list_numbers(pattern="9701000001", match="anywhere", size=100)
        assert [n.number for n in anywhere.numbers] == [f"+31970100000{i}" for i in range(10, 20)]


async def test_the_inbound_url_shows_in_the_listing(
    emulator: Emulator, emulator_url: str, receiver: WebhookReceiver
) -> None:
    url = receiver.url + "/inbound"
    async with client(emulator_url) as sms:
        await sms.update_number("NL", OWNED, url)
        (number,) = (await sms.list_numbers()).numbers
    assert number.inbound_url == url
    assert number.to_dict() == {
        "number": OWNED,
        "country": "NL",
        "type": "mobile-lvn",
        "features": ["SMS", "VOICE"],
        "inbound_url": url,
    }


async def test_refusals_name_what_was_refused(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        with pytest.raises(KpnApiError) as owned:
            await sms.buy_number(OWNED)
        with pytest.raises(KpnApiError) as not_owned:
            await sms.cancel_number(FOR_SALE)
        with pytest.raises(KpnApiError, match="number not available for purchase"):
            await sms.buy_number("+31612345678")  # a mobile number: not for sale
    assert str(owned.value) == (
        "buy +319********78: KPN refused: method failed: number already owned "
        "(error-code 420, HTTP 420)"
    )
    assert owned.value.code == "420" and owned.value.permanent
    assert str(not_owned.value).startswith("cancel +319********03: KPN refused: method failed: ")
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER]


async def test_an_app_not_in_production_is_told_so(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(api_products=["sms-nexmo"])
    async with client(emulator_url) as sms:
        with pytest.raises(KpnProductError) as listing:
            await sms.list_numbers()
        with pytest.raises(KpnProductError) as buying:
            await sms.buy_number(FOR_SALE)
    assert str(listing.value).startswith(PRODUCTION_ADVICE + " (the gateway answered HTTP 401 ")
    assert "InvalidAPICallAsNoApiProductMatchFound" in str(listing.value)
    assert str(buying.value).startswith("buy +319********03: this app is not in production")
    assert emulator.counters["product_refusals"] == 2
    assert emulator.counters["token_requests"] == 1  # a new token would not help: none asked
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER]


async def test_a_403_means_not_in_production(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(forced_http={NUMBERS + "/number/search": 403})
    async with client(emulator_url) as sms:
        with pytest.raises(KpnProductError, match=r"^this app is not in production for the Phone"):
            await sms.search_numbers()


async def test_an_expired_token_is_renewed_once(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        await sms.list_numbers()
        emulator.expire_tokens()
        assert (await sms.list_numbers()).count == 1
    assert emulator.counters["token_requests"] == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"country": "XX"}, "country: 'XX' is not a two-letter ISO country code such as NL"),
        ({"country": "Netherlands"}, "country: 'Netherlands' is not a two-letter ISO"),
        ({"pattern": "31a"}, "pattern: '31a' is not a number pattern: use 1 to 15 digits"),
        ({"pattern": ""}, "pattern: '' is not a number pattern"),
        ({"pattern": "1" * 16}, "pattern: '1111111111111111' is not a number pattern"),
        (
            {"pattern": "31", "match": "middle"},
            "match: 'middle' is not one of start, anywhere, end",
        ),
        ({"features": ["MMS"]}, "features: 'MMS' is not one of SMS, VOICE"),
        ({"features": []}, "features: '' is not one of SMS, VOICE"),
        ({"number_type": "mobile"}, "type: 'mobile' is not one of landline, landline-toll-free"),
        ({"size": 101}, "size: 101 is not a page size from 1 to 100"),
        ({"size": 0}, "size: 0 is not a page size from 1 to 100"),
        ({"index": 0}, "index: 0 is not a page number (1 is the first)"),
    ],
)
async def test_bad_search_input_is_one_line_naming_the_field(
    emulator: Emulator, emulator_url: str, call: dict[str, object], message: str
) -> None:
    async with client(emulator_url) as sms:
        with pytest.raises(KpnValidationError) as err:
            await sms.search_numbers(**call)  # type: ignore[arg-type]
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert err.value.field == message.split(":", 1)[0]
    assert emulator.counters.get("number_requests", 0) == 0


@pytest.mark.parametrize(
    ("number", "country", "field", "shown"),
    [
        ("06123", None, "number", "'*****' is not a valid phone number"),
        ("not a number", None, "number", "is not a valid phone number"),
        (FOR_SALE, "ZZ", "country", "'ZZ' is not a two-letter ISO country code"),
    ],
)
async def test_bad_numbers_are_refused_before_any_request(
    emulator: Emulator,
    emulator_url: str,
    number: str,
    country: str | None,
    field: str,
    shown: str,
) -> None:
    async with client(emulator_url) as sms:
        for change in (sms.buy_number, sms.cancel_number):
            with pytest.raises(KpnValidationError) as err:
                await change(number, country=country)
            assert err.value.field == field and shown in str(err.value)
    assert emulator.counters.get("number_requests", 0) == 0
    assert emulator.counters.get("token_requests", 0) == 0


def test_the_sync_client_has_the_same_calls(emulator: Emulator, emulator_url: str) -> None:
    with KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url) as sms:
        found = sms.search_numbers(country="GB", size=2)
        assert [n.number for n in found.numbers] == ["+447400900000", "+447400900001"]
        assert {n.country for n in found.numbers} == {"GB"}
        assert sms.buy_number("+447400900001") == "+447400900001"  # GB: the number's own
        assert [n.number for n in sms.list_numbers().numbers] == [OWNED, "+447400900001"]
        with pytest.raises(KpnApiError, match="number already owned"):
            sms.buy_number("+447400900001")
        assert sms.cancel_number("+447400900001", country="gb") == "+447400900001"
        with pytest.raises(KpnValidationError, match=r"^pattern: "):
            sms.list_numbers(pattern="abc")
        emulator.configure(api_products=["sms-nexmo"])
        with pytest.raises(KpnProductError, match="not in production for the Phone Numbers API"):
            sms.list_numbers()
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER]


# the wire, without I/O ---------------------------------------------------------------------

TOKEN = Token(access_token="t0k3n", expires_at=2e9)


def test_the_requests_follow_kpns_spec() -> None:
    params = search_params(
        country="nl",
        features=["sms", "VOICE", "SMS"],
        number_type="mobile-lvn",
        pattern="+3197",
        match="end",
        size=50,
        index=2,
    )
    search = search_request("https://h/", TOKEN, params)
    assert (search.method, search.url) == ("GET", "https://h" + NUMBERS + "/number/search")
    assert search.params == {
        "country": "NL",
        "features": "SMS,VOICE",
        "type": "mobile-lvn",
        "pattern": "3197",
        "search_pattern": "2",
        "size": "50",
        "index": "2",
    }
    assert search.headers["Authorization"] == "Bearer t0k3n" and not search.data
    buy = change_request("https://h", TOKEN, "buy", country="NL", number=FOR_SALE)
    assert (buy.method, buy.url) == ("POST", "https://h" + NUMBERS + "/number/buy")
    assert buy.data == {"country": "NL", "msisdn": FOR_SALE[1:]}
    assert buy.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "t0k3n" not in repr(buy)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 1, "numbers": [{"msisdn": "abc"}]}, "numbers[0].msisdn: '***' is not a phone"),
        ({"count": 1, "numbers": ["3197012345678"]}, "numbers[0]: expected an object"),
        ({"count": 1, "numbers": {"msisdn": "1"}}, "numbers: expected a list"),
        ({"count": "many", "numbers": []}, "count: 'many' is not a number"),
    ],
)
def test_a_bad_answer_is_one_line_naming_the_field(body: object, message: str) -> None:
    with pytest.raises(KpnConnectionError) as err:
        parse_page(200, {}, json.dumps(body).encode(), what="account/numbers")
    assert str(err.value).startswith("account/numbers answer: " + message)


def test_an_answer_with_string_values_is_read() -> None:
    body = {
        "count": "2",
        "numbers": [
            {"msisdn": 3197012345678, "features": "SMS,VOICE"},
            {"msisdn": "447400900000", "country": "GB", "moHttpUrl": ""},
        ],
    }
    page = parse_page(200, {}, json.dumps(body).encode(), what="number/search")
    assert page.count == 2
    assert page.numbers[0] == VirtualNumber(
        number=OWNED, country="NL", type=None, features=("SMS", "VOICE")
    )
    assert page.numbers[1].country == "GB" and page.numbers[1].inbound_url is None
