"""Per-client bookkeeping shared by both clients: counters, last headers, safe logging."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from .logsafe import safe_body, safe_fields
from .models import ApiHeaders, Quota, SendReport
from .protocol import ApiRequest
from .settings import Settings

_LOGGER = logging.getLogger("kpn_sms_notify")
_SUNSETS_WARNED: set[tuple[str, str]] = set()


@dataclass
class Session:
    settings: Settings = field(repr=False)
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    retries: int = 0
    quota: Quota | None = None
    api_version: str | None = None

    def record(self, report: SendReport) -> None:
        self.sent += len(report.accepted)
        self.failed += len(report.failed)
        self.suppressed += len(report.suppressed)

    def saw(self, headers: ApiHeaders) -> None:
        if headers.quota is not None:
            self.quota = headers.quota
        if headers.api_version:
            self.api_version = headers.api_version
        sunset = (headers.sunset or "").strip()
        if sunset and sunset.lower() != "n/a":
            key = (self.settings.base_url, sunset)
            if key not in _SUNSETS_WARNED:  # once per process: it is news, not noise
                _SUNSETS_WARNED.add(key)
                _LOGGER.warning(
                    "KPN announces the end of this API version (sunset: %s); "
                    "check developer.kpn.com for its successor",
                    sunset,
                )

    def log_request(self, request: ApiRequest) -> None:
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("-> %s %s %s", request.method, request.url, safe_fields(request.data))

    def log_response(
        self, request: ApiRequest, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        if _LOGGER.isEnabledFor(logging.DEBUG):
            secrets = (self.settings.client_secret,)
            _LOGGER.debug(
                "<- %s %s: HTTP %s %s",
                request.method,
                request.url,
                status,
                safe_body(body, secrets),
            )
