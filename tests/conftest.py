"""Shared fixtures: a fresh KPN emulator per test, on 127.0.0.1 in its own thread.

Importable in any venv that has kpn_sms_notify installed (Home Assistant's included):
no Home Assistant imports here.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

__all__ = ["EMU_CLIENT_ID", "EMU_CLIENT_SECRET"]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started emulator (default knobs); stopped after the test."""
    emu = Emulator()
    emu.start_in_thread()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_url(emulator: Emulator) -> str:
    """Base URL of the test's emulator, e.g. "http://127.0.0.1:40123"."""
    assert emulator.url is not None
    return emulator.url


TOKEN_PATH = "/oauth/client_credential/accesstoken?grant_type=client_credentials"
SEND_PATH = "/communication/nexmo/sms/send"


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One plain httpx client for raw calls to loopback servers (no proxies from the env;
    a client per call would cost ~0.1 s building an SSL context)."""
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def emulator_token(emulator_url: str, http: httpx.Client) -> str:
    """An access token fetched from the test's emulator with raw httpx."""
    answer = http.post(
        emulator_url + TOKEN_PATH, data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET}
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def emulator_auth(emulator_token: str) -> dict[str, str]:
    """Authorization header for raw API calls to the test's emulator."""
    return {"Authorization": f"Bearer {emulator_token}"}
