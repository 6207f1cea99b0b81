"""`python -m kpn_sms_notify.server --config FILE` (the same as `kpn-sms serve`)."""

from __future__ import annotations

import argparse
import sys

from .app import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kpn-sms serve", description="Alert webhooks to SMS, inbound SMS and receipts."
    )
    parser.add_argument("--config", required=True, help="the YAML config file")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.add_argument(
        "--paging-routes",
        action="store_true",
        help="print the Alertmanager routes and receivers of serve.paging's chains, then exit",
    )
    args = parser.parse_args(argv)
    return serve(args.config, debug=args.debug, paging_routes=args.paging_routes)


if __name__ == "__main__":
    sys.exit(main())
