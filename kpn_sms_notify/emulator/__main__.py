"""Run the KPN SMS gateway emulator on 127.0.0.1 until interrupted.

Usage: python -m kpn_sms_notify.emulator [--port N] [--latency S] [--rate-limit R]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .server import serve


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m kpn_sms_notify.emulator",
        description="Run the KPN SMS gateway emulator on 127.0.0.1 until interrupted.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free port)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API answer"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="sends per second before throttling"
    )
    args = parser.parse_args(argv)
    try:
        serve(port=args.port, latency=args.latency, rate_limit=args.rate_limit)
    except (OSError, ValueError) as err:
        print(f"kpn emulator: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
