"""Alertmanager's API v2, the parts paging uses: alert groups, alerts and silences.

Works against Alertmanager itself and Grafana's Alertmanager-compatible API (base
`/api/alertmanager/grafana`, a service-account token as bearer). Failures are one
`AlertmanagerError` line naming the call and the reason; credentials never appear in it.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..schema import shown_url
from .config import AlertmanagerApiConfig


class AlertmanagerError(Exception):
    """Alertmanager could not be reached or refused a call (the message says which)."""


class AlertmanagerApi:
    """A small async client; `close()` it when done."""

    def __init__(
        self, config: AlertmanagerApiConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        headers = {"Accept": "application/json"}
        auth: httpx.BasicAuth | None = None
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        elif config.username is not None and config.password is not None:
            auth = httpx.BasicAuth(config.username, config.password)
        self._shown = shown_url(config.base)
        self._http = httpx.AsyncClient(
            base_url=config.base + "/api/v2",
            headers=headers,
            auth=auth,
            timeout=config.timeout,
            transport=transport,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def groups(self) -> list[dict[str, Any]]:
        """`GET /alerts/groups`: every alert group with its receiver, active ones included."""
        return _list(await self._call("GET", "/alerts/groups"), "alert groups")

    async def alerts(self) -> list[dict[str, Any]]:
        """`GET /alerts`: alerts that have not resolved (silenced ones too)."""
        return _list(await self._call("GET", "/alerts"), "alerts")

    async def silences(self) -> list[dict[str, Any]]:
        """`GET /silences`: active, pending and expired silences."""
        return _list(await self._call("GET", "/silences"), "silences")

    async def post_silence(self, body: dict[str, Any]) -> str:
        """`POST /silences` (with `id`: an update); returns the silence's ID."""
        data = await self._call("POST", "/silences", json=body)
        silence_id = data.get("silenceID") if isinstance(data, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise AlertmanagerError(f"{self._shown}: POST /silences: no silenceID in the answer")
        return silence_id

    async def expire_silence(self, silence_id: str) -> None:
        """`DELETE /silence/{id}`; expiring an expired silence is fine."""
        await self._call("DELETE", f"/silence/{silence_id}")

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        what = f"{self._shown}: {method} {path.split('/silence/')[0] or path}"
        try:
            answer = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as err:
            raise AlertmanagerError(f"{what}: timed out") from err
        except httpx.HTTPError as err:
            raise AlertmanagerError(f"{what}: {type(err).__name__}") from err
        if answer.status_code >= 300:
            reason = answer.text.strip().splitlines()[0][:120] if answer.text.strip() else ""
            raise AlertmanagerError(f"{what}: HTTP {answer.status_code} {reason}".rstrip())
        if not answer.content:
            return None
        try:
            return answer.json()
        except ValueError as err:
            raise AlertmanagerError(f"{what}: the answer is not JSON") from err


def _list(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise AlertmanagerError(f"Alertmanager's {what}: expected a list")
    return [item for item in data if isinstance(item, dict)]
