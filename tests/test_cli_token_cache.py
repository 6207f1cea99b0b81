"""The CLI keeps its token between runs in a per-user cache file (token_cache.py): the real
`kpn-sms` in a subprocess against the emulator, XDG_CACHE_HOME in a tmp dir."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.models import Token
from kpn_sms_notify.token_cache import FileTokenStore

A = "31612345678"


def kpn_sms(*args: str, cache: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}
    env = {
        **base,
        "XDG_CACHE_HOME": str(cache),
        "KPN_SMS_CLIENT_ID": EMU_CLIENT_ID,
        "KPN_SMS_CLIENT_SECRET": EMU_CLIENT_SECRET,
        "KPN_SMS_SENDER": "KPNAlert",
        "KPN_SMS_BASE_URL": url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "kpn_sms_notify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def send(cache: Path, url: str, *flags: str, **env: str) -> dict[str, object]:
    proc = kpn_sms(*flags, "send", "--json", "--to", A, "alert", cache=cache, url=url, **env)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def store(cache: Path, url: str) -> FileTokenStore:
    return FileTokenStore(
        base_url=url,
        client_id=EMU_CLIENT_ID,
        client_secret=EMU_CLIENT_SECRET,
        directory=cache / "kpn-sms-notify",
    )


def test_eight_runs_one_token_request(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    for _ in range(8):
        send(tmp_path, emulator_url)
    assert emulator.counters["token_requests"] == 1
    assert emulator.counters["send_requests"] == 8
    (file,) = (tmp_path / "kpn-sms-notify").iterdir()
    assert file == store(tmp_path, emulator_url).path
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    content = file.read_text()
    assert EMU_CLIENT_SECRET not in content and EMU_CLIENT_SECRET not in file.name
    assert json.loads(content)["client_id"] == EMU_CLIENT_ID


def test_refused_token_is_renewed_once_and_replaced(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    send(tmp_path, emulator_url)
    first = store(tmp_path, emulator_url).load()
    assert first is not None
    emulator.expire_tokens()  # the cached token is now refused by the gateway
    report = send(tmp_path, emulator_url)
    assert report["ok"] and report["token_requests"] == 1
    assert emulator.counters["token_requests"] == 2
    assert emulator.counters["send_requests"] == 3  # 1, then the refused one and its retry
    second = store(tmp_path, emulator_url).load()
    assert second is not None and second.access_token != first.access_token
    send(tmp_path, emulator_url)  # and the renewed token is reused
    assert emulator.counters["token_requests"] == 2


def test_refused_token_leaves_the_cache_even_when_renewal_fails(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    send(tmp_path, emulator_url)
    emulator.expire_tokens()
    emulator.configure(token_endpoint_down=True)
    config = tmp_path / "kpn-sms.yaml"
    config.write_text("retries: 0\n")  # no retrying the token service within the budget
    proc = kpn_sms(
        "--config", str(config), "send", "--to", A, "alert", cache=tmp_path, url=emulator_url
    )
    assert proc.returncode != 0
    assert not store(tmp_path, emulator_url).path.exists()  # the next run will not try it again


def test_no_token_cache_flag_and_env(emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    send(tmp_path, emulator_url, "--no-token-cache")
    send(tmp_path, emulator_url, "--no-token-cache")
    send(tmp_path, emulator_url, KPN_SMS_NO_TOKEN_CACHE="1")
    assert emulator.counters["token_requests"] == 3
    assert not (tmp_path / "kpn-sms-notify").exists()


def test_token_command_always_asks_the_gateway(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    send(tmp_path, emulator_url)
    proc = kpn_sms("token", cache=tmp_path, url=emulator_url)
    assert proc.returncode == 0, proc.stderr
    assert emulator.counters["token_requests"] == 2


def test_corrupt_cache_file_is_ignored_and_replaced(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    path = store(tmp_path, emulator_url).path
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"\x00not json{")
    path.chmod(0o600)
    proc = kpn_sms("--debug", "send", "--to", A, "alert", cache=tmp_path, url=emulator_url)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "token cache:" in proc.stderr and "not a token file; ignored" in proc.stderr
    assert EMU_CLIENT_SECRET not in proc.stderr
    assert json.loads(path.read_text())["client_id"] == EMU_CLIENT_ID


def test_demo_leaves_the_cache_alone(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kpn_sms_notify", "demo"],
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []


# ---- the store itself ----------------------------------------------------------------------

URL = "http://127.0.0.1:9"


def token(value: str = "tok-1", ttl: float = 3600) -> Token:
    return Token(access_token=value, expires_at=time.time() + ttl)


@pytest.fixture
def file_store(tmp_path: Path) -> FileTokenStore:
    return FileTokenStore(
        base_url=URL, client_id="id", client_secret="s3cret", directory=tmp_path / "kpn-sms-notify"
    )


def test_store_round_trip_and_keys(file_store: FileTokenStore, tmp_path: Path) -> None:
    assert file_store.load() is None
    file_store.save(token())
    loaded = file_store.load()
    assert loaded is not None and loaded.access_token == "tok-1"
    for other in (
        {"base_url": "http://127.0.0.1:10"},
        {"client_id": "id2"},
        {"client_secret": "other"},
    ):
        keys = {"base_url": URL, "client_id": "id", "client_secret": "s3cret", **other}
        assert FileTokenStore(**keys, directory=tmp_path / "kpn-sms-notify").load() is None
    assert "s3cret" not in file_store.path.read_text() and "s3cret" not in repr(file_store)


def test_store_ignores_expired_foreign_and_loose_files(
    file_store: FileTokenStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kpn_sms_notify.token_cache")
    file_store.save(token(ttl=2))
    data = json.loads(file_store.path.read_text())
    file_store.path.write_text(json.dumps({**data, "expires_at": time.time() - 1}))
    assert file_store.load() is None
    file_store.path.write_text(json.dumps({**data, "client_id": "someone-else"}))
    assert file_store.load() is None
    assert "belongs to another account" in caplog.text
    file_store.path.write_text(json.dumps(data))
    file_store.path.chmod(0o644)  # readable by others: not trusted
    assert file_store.load() is None
    assert "not a private file" in caplog.text
    file_store.path.write_text("[]")
    file_store.path.chmod(0o600)
    assert file_store.load() is None


def test_store_refuses_symlinks(file_store: FileTokenStore, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("keep me")
    file_store.save(token())
    file_store.path.unlink()
    file_store.path.symlink_to(target)
    assert file_store.load() is None  # not followed
    file_store.save(token("tok-2"))  # the link is replaced by a private file
    assert target.read_text() == "keep me"
    assert not file_store.path.is_symlink()
    assert stat.S_IMODE(file_store.path.stat().st_mode) == 0o600
    loaded = file_store.load()
    assert loaded is not None and loaded.access_token == "tok-2"


def test_store_tightens_its_directory(file_store: FileTokenStore) -> None:
    directory = file_store.path.parent
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    file_store.save(token())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == [file_store.path.name]  # no temp files left


def test_forget_only_the_refused_token(file_store: FileTokenStore) -> None:
    file_store.save(token("new"))
    file_store.forget(token("old"))  # another run already replaced it: keep the new one
    assert file_store.path.exists()
    file_store.forget(token("new"))
    assert not file_store.path.exists()
    file_store.forget(token("new"))  # nothing left: no error
