"""The contenders of the fan-out benchmark: one alert to N recipients, timed end to end.

Every contender is a callable `run(numbers) -> None` made by a factory below; the caller times
it and checks the emulator's counters. The peers are written the way their users would use
them, pointed at the emulator; nothing in them uses kpn_sms_notify.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from .emulator_proc import EMU_API_KEY, EMU_API_SECRET, EMU_CLIENT_ID, EMU_CLIENT_SECRET

TEXT = "web1: disk / 95% full"
TITLE = "ALERT"
SENDER = "KPNAlert"
# apprise's vonage:// accepts only a phone number as sender.
VONAGE_SOURCE = "31612345678"
TOKEN_PATH = "/oauth/client_credential/accesstoken"
SEND_PATH = "/communication/nexmo/sms/send"

Runner = Callable[[Sequence[str]], None]


def numbers(count: int, start: int = 0) -> list[str]:
    """Distinct Dutch mobile numbers, E.164 digits (316 + 8 digits)."""
    return [f"3161{start + i:07d}" for i in range(count)]


def ours_config(url: str, **extra: Any) -> dict[str, Any]:
    # rate_limit 30 = the emulator's R (the default 25 keeps headroom under Vonage's 30/s).
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": SENDER,
        "base_url": url,
        "rate_limit": 30,
        # The benches send the same alert to the same numbers again and again: that is the
        # storm the send guard holds back, and these measure sending.
        "storm_cap": 0,
        **extra,
    }


# -- ours ------------------------------------------------------------------------------------


class OursWarm:
    """A long-lived `KpnSms` (token cached, connection open): Home Assistant's and
    `kpn-sms serve`'s case, where the client lives as long as the process."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, **extra: Any) -> None:
        from kpn_sms_notify import KpnSms, validate_config

        self.loop = loop
        self.sms = KpnSms.from_config(validate_config(ours_config(url, **extra)))
        loop.run_until_complete(self.sms.authenticate())

    def __call__(self, recipients: Sequence[str]) -> None:
        report = self.loop.run_until_complete(self.sms.send(TEXT, list(recipients), title=TITLE))
        _check_report(report, len(recipients))

    def close(self) -> None:
        self.loop.run_until_complete(self.sms.close())


def ours_cold(loop: asyncio.AbstractEventLoop, url: str) -> Runner:
    """A new `KpnSms` per alert: config check, new connection, token fetch, fan-out."""
    from kpn_sms_notify import KpnSms, validate_config

    async def alert(recipients: Sequence[str]) -> None:
        async with KpnSms.from_config(validate_config(ours_config(url))) as sms:
            report = await sms.send(TEXT, list(recipients), title=TITLE)
        _check_report(report, len(recipients))

    return lambda recipients: loop.run_until_complete(alert(recipients))


def _check_report(report: Any, expected: int) -> None:
    if not report.ok or len(report.results) != expected:
        reasons = {r.reason for r in report.failed}
        raise RuntimeError(f"ours: {len(report.failed)} of {expected} failed: {reasons}")


def ours_apprise(url: str) -> Runner:
    """Our `kpnsms://` plugin inside Apprise (the sync client, a thread per request)."""
    from urllib.parse import quote

    import apprise

    import kpn_sms_notify.apprise_plugin  # noqa: F401  (registers kpnsms://)

    asset = apprise.AppriseAsset(storage_mode="memory")

    def run(recipients: Sequence[str]) -> None:
        targets = "/".join(recipients)
        link = (
            f"kpnsms://{EMU_CLIENT_ID}:{EMU_CLIENT_SECRET}@{SENDER}/{targets}"
            f"?base_url={quote(url, safe='')}&rate_limit=30&storm_cap=0"
        )
        app = apprise.Apprise(asset=asset)
        if not app.add(link):
            raise RuntimeError("apprise refused the kpnsms:// URL")
        if not app.notify(TEXT, title=TITLE):
            raise RuntimeError("apprise kpnsms:// notify failed")

    return run


# -- peers -----------------------------------------------------------------------------------


def apprise_vonage(url: str) -> Runner:
    """Apprise's built-in `vonage://`. Its `notify_url` is hard-coded to
    https://rest.nexmo.com/sms/json; it is pointed at the emulator by setting that class
    attribute, in this benchmark process only."""
    import apprise
    from apprise.plugins.vonage import NotifyVonage

    NotifyVonage.notify_url = f"{url}/sms/json"
    asset = apprise.AppriseAsset(storage_mode="memory")

    def run(recipients: Sequence[str]) -> None:
        targets = "/".join("+" + n for n in recipients)
        app = apprise.Apprise(asset=asset)
        if not app.add(f"vonage://{EMU_API_KEY}:{EMU_API_SECRET}@{VONAGE_SOURCE}/{targets}"):
            raise RuntimeError("apprise refused the vonage:// URL")
        # True means only "HTTP 200 for every target": the plugin never reads the body, so
        # the caller checks the emulator's accepted count.
        if not app.notify(TEXT, title=TITLE):
            raise RuntimeError("apprise vonage:// notify failed")

    return run


def vonage_sdk(url: str) -> Runner:
    """The Vonage Python SDK (v4): `sms.send()` once per recipient.

    Two shims in a transport adapter, in this process only: the SDK always builds
    `https://{rest_host}` (made http:// for the emulator), and it sends the API key as HTTP
    Basic auth, which the emulator's /sms/json does not read (moved into the form as
    api_key/api_secret, as Vonage also accepts). Both happen after the SDK's own work."""
    import base64
    from urllib.parse import urlencode

    from requests.adapters import HTTPAdapter
    from vonage import Auth, HttpClientOptions, Vonage  # type: ignore[import-untyped]
    from vonage_sms import SmsMessage  # type: ignore[import-untyped]

    host = url.removeprefix("http://")

    class _PlainHttp(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            request.url = request.url.replace("https://", "http://", 1)
            basic = request.headers.pop("Authorization", "")
            if basic.startswith("Basic "):
                key, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                body = request.body.decode() if isinstance(request.body, bytes) else request.body
                request.body = f"{body}&{urlencode({'api_key': key, 'api_secret': secret})}"
                request.headers["Content-Length"] = str(len(request.body))
            return super().send(request, *args, **kwargs)

    def run(recipients: Sequence[str]) -> None:
        client = Vonage(
            Auth(api_key=EMU_API_KEY, api_secret=EMU_API_SECRET), HttpClientOptions(rest_host=host)
        )
        client.http_client._session.mount("https://", _PlainHttp())
        for number in recipients:
            # Raises SmsError on a non-zero status.
            client.sms.send(SmsMessage(to=number, from_=SENDER, text=f"{TITLE}\n{TEXT}"))

    return run


def naive_script(url: str) -> Runner:
    """A public-example-style script: sequential, a new token for every message. It keeps one
    httpx.Client (the kindest reading; the examples call requests.post each time)."""

    def run(recipients: Sequence[str]) -> None:
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
            for number in recipients:
                token = http.post(
                    TOKEN_PATH,
                    params={"grant_type": "client_credentials"},
                    data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
                ).json()
                answer = http.post(
                    SEND_PATH,
                    data={"from": SENDER, "to": number, "text": f"{TITLE}\n{TEXT}"},
                    headers={"Authorization": f"Bearer {token['access_token']}"},
                )
                if answer.json()["messages"][0]["status"] != "0":
                    raise RuntimeError(f"naive script: {answer.text}")

    return run


def one_send_time(url: str, samples: int = 20) -> float:
    """Median wall time of one bare `POST /send` on an open connection with a token: the
    `t` of the physical limit t + (N-1)/R."""
    import statistics
    import time

    with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
        token = http.post(
            TOKEN_PATH,
            params={"grant_type": "client_credentials"},
            data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
        ).json()["access_token"]
        times = []
        for i in range(samples):
            started = time.perf_counter()
            http.post(
                SEND_PATH,
                data={"from": SENDER, "to": numbers(1, 9_000_000 + i)[0], "text": TEXT},
                headers={"Authorization": f"Bearer {token}"},
            ).raise_for_status()
            times.append(time.perf_counter() - started)
            time.sleep(1 / 25)  # stay under the emulator's rate limit
    return statistics.median(times)
