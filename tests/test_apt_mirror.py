"""scripts/lib/apt_mirror.sh: which Debian mirror scripts/ha-chroot.sh builds its chroot from.

The function reads sample apt configurations in a tmp dir; the chroot itself is not built.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "scripts" / "lib" / "apt_mirror.sh"
MAIN = "http://mirror.example/debian"
OTHER = "http://other.example/debian"


def apt_mirror(apt_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", '. "$0" && apt_mirror "$1"', str(LIB), str(apt_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def write(apt_dir: Path, name: str, text: str) -> None:
    path = apt_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def apt_dir(tmp_path: Path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


def found(apt_dir: Path) -> str:
    proc = apt_mirror(apt_dir)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_deb822_main_archive_not_security(apt_dir: Path) -> None:
    write(
        apt_dir,
        "sources.list.d/debian.sources",
        f"""\
Types: deb
# {OTHER}/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: {MAIN}/
Suites: bookworm bookworm-updates
Components: main contrib
""",
    )
    assert found(apt_dir) == MAIN


def test_deb822_skips_disabled_source_only_and_continued_fields(apt_dir: Path) -> None:
    write(
        apt_dir,
        "sources.list.d/debian.sources",
        f"""\
Types: deb
URIs: {OTHER}
Suites: sid
Components: main
Enabled: no

Types: deb-src
URIs: {OTHER}
Suites: sid
Components: main

types: deb
uris:
 {MAIN}
 {OTHER}
suites: trixie
components:
 main
""",
    )
    assert found(apt_dir) == MAIN


def test_one_line_format_with_options_and_comments(apt_dir: Path) -> None:
    write(
        apt_dir,
        "sources.list",
        f"""\
# deb {OTHER} bookworm main
deb-src {OTHER} bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {MAIN} bookworm main
""",
    )
    assert found(apt_dir) == MAIN


def test_sources_list_comes_before_sources_list_d(apt_dir: Path) -> None:
    write(
        apt_dir,
        "sources.list.d/a.sources",
        f"Types: deb\nURIs: {OTHER}\nSuites: sid\nComponents: main\n",
    )
    write(apt_dir, "sources.list", f"deb {MAIN} sid main\n")
    assert found(apt_dir) == MAIN


def test_files_in_name_order_and_other_suffixes_ignored(apt_dir: Path) -> None:
    write(apt_dir, "sources.list.d/10-main.list", f"deb {MAIN} trixie main\n")
    write(
        apt_dir,
        "sources.list.d/20-other.sources",
        f"Types: deb\nURIs: {OTHER}\nSuites: trixie\nComponents: main\n",
    )
    write(apt_dir, "sources.list.d/05-old.list.disabled", f"deb {OTHER} trixie main\n")
    assert found(apt_dir) == MAIN


def test_third_party_and_security_repositories_are_skipped(apt_dir: Path) -> None:
    write(
        apt_dir,
        "sources.list",
        """\
deb http://security.example/debian-security bookworm-security main
deb http://security.example/debian buster/updates main
deb [signed-by=/etc/apt/keyrings/docker.gpg] https://docker.example/linux/debian bookworm stable
deb https://node.example/node_20.x nodistro main
deb http://ubuntu.example/ubuntu noble main
""",
    )
    write(apt_dir, "sources.list.d/debian.list", f"deb {MAIN} bookworm main\n")
    assert found(apt_dir) == MAIN


def test_unknown_suite_name_accepted_under_a_debian_path(apt_dir: Path) -> None:
    write(apt_dir, "sources.list", f"deb {MAIN} someday main\n")
    assert found(apt_dir) == MAIN


def test_mirror_file_uri_gives_its_first_url(apt_dir: Path) -> None:
    mirrors = apt_dir / "mirrors" / "debian.list"
    write(apt_dir, "mirrors/debian.list", f"{MAIN}/\n{OTHER}\n")
    write(
        apt_dir,
        "sources.list.d/debian.sources",
        f"Types: deb\nURIs: mirror+file://{mirrors}\nSuites: bookworm\nComponents: main\n",
    )
    assert found(apt_dir) == MAIN


def test_nothing_usable_fails_without_output(apt_dir: Path) -> None:
    write(
        apt_dir,
        "sources.list.d/security.sources",
        f"Types: deb\nURIs: {OTHER}-security\nSuites: bookworm-security\nComponents: main\n",
    )
    write(apt_dir, "sources.list", "deb cdrom:[Debian 12]/ bookworm main\n")
    proc = apt_mirror(apt_dir)
    assert (proc.returncode, proc.stdout) == (1, "")


def test_missing_apt_dir_fails(tmp_path: Path) -> None:
    proc = apt_mirror(tmp_path / "nowhere")
    assert (proc.returncode, proc.stdout) == (1, "")
