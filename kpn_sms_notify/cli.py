"""The `kpn-sms` command (also `python -m kpn_sms_notify`).

Exit codes: 0 every recipient accepted; 1 some recipient failed (or a buy or cancel was not
confirmed); 2 bad input or config (nothing sent); 3 credentials refused, or the app lacks the
SMS product or is not in production for the Phone Numbers API; 4 gateway unreachable;
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__, cli_numbers
from .errors import Kind, KpnSmsError, KpnValidationError
from .options import OPTIONS, Scope

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_AUTH, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
# The exit code of an error, by its kind; a refusal or a throttle is EXIT_FAILED.
_EXIT_CODES = {
    Kind.INPUT: EXIT_INPUT,
    Kind.CREDENTIALS: EXIT_AUTH,
    Kind.PRODUCT: EXIT_AUTH,
    Kind.UNREACHABLE: EXIT_UNREACHABLE,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kpn-sms", description="Send alert texts through KPN's SMS API."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="FILE", help="YAML file with the config keys")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log every request and answer (secrets masked) to stderr",
    )
    _add_flags(parser, "kpn-sms")
    parser.add_argument(
        "--no-token-cache",
        action="store_true",
        help="fetch a new token instead of reusing the one cached between runs",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = sub.add_parser("send", help="text the recipients")
    send.add_argument("text", metavar="TEXT", help="the message; '-' reads it from stdin")
    send.add_argument(
        "--to",
        action="append",
        metavar="NUMBER",
        help="recipient (repeatable); default: the configured recipients",
    )
    _add_flags(send, "send")
    send.add_argument("--json", action="store_true", help="print the results as JSON")

    sub.add_parser("token", help="check the credentials and that the app has the SMS API")

    reg = sub.add_parser("register-webhook", help="point inbound texts at a URL")
    reg.add_argument("url", metavar="URL", help="your webhook (https)")
    reg.add_argument(
        "--to", metavar="NUMBER", help="demo account: your registered test number (/register)"
    )
    reg.add_argument(
        "--number",
        metavar="MSISDN",
        help="virtual number: set its moHttpUrl (phone-numbers number/update)",
    )
    reg.add_argument("--country", help="country of --number (default: the number's own)")

    cli_numbers.add_parser(sub)

    emu = sub.add_parser("emulator", help="run the KPN gateway emulator on 127.0.0.1")
    emu.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    emu.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")

    sub.add_parser("demo", help="a full run on the embedded emulator")

    srv = sub.add_parser("serve", help="alert webhooks (Alertmanager, Grafana) and inbound SMS")
    srv.add_argument("--config", dest="serve_config", metavar="FILE", help="YAML config")
    srv.add_argument(
        "--paging-routes",
        action="store_true",
        help="print the Alertmanager routes and receivers of serve.paging's chains, then exit",
    )

    ha = sub.add_parser(
        "install-homeassistant", help="copy the integration into CONFIG_DIR/custom_components"
    )
    ha.add_argument("config_dir", metavar="CONFIG_DIR")
    return parser


def _add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The --flags of the options declared for `command`."""
    for option in OPTIONS:
        if option.cli != command:
            continue
        convert: dict[str, Any] = {"type": option.kind} if option.kind in (int, float) else {}
        if option.kind is bool:  # a switch: given or not
            convert = {"action": "store_true", "default": None}
        # A message option's default is the configured one.
        shown = option.default is not None and option.scope is not Scope.MESSAGE
        default = f" (default {option.default})" if shown else ""
        if option.kind is not bool:
            convert.update(metavar=option.metavar, choices=option.choices or None)
        parser.add_argument(
            option.flag, dest=option.key, help=option.meaning.replace("`", "") + default, **convert
        )


def _flags(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The options given as --flags of `command`."""
    return {
        o.key: getattr(args, o.key)
        for o in OPTIONS
        if o.cli == command and getattr(args, o.key, None) is not None
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.debug:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return _dispatch(args)
    except KpnSmsError as err:
        return _fail(err, exit_code(err))
    except KeyboardInterrupt:
        return 130


def exit_code(err: KpnSmsError) -> int:
    """The documented exit code of a failed command."""
    return _EXIT_CODES.get(err.kind, EXIT_FAILED)


def _fail(err: Exception, code: int) -> int:
    print(f"kpn-sms: error: {err}", file=sys.stderr)
    return code


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "emulator":
        from .emulator import serve as serve_emulator

        serve_emulator(port=args.port, latency=args.latency)
        return EXIT_OK
    if command == "demo":
        from .demo import run_demo

        return run_demo()
    if command == "serve":
        from .server import serve

        return serve(
            args.serve_config or args.config, debug=args.debug, paging_routes=args.paging_routes
        )
    if command == "install-homeassistant":
        from pathlib import Path

        from .ha_install import install_homeassistant

        target = install_homeassistant(Path(args.config_dir))
        print(f"installed the integration in {target}; restart Home Assistant")
        return EXIT_OK
    from . import cliconfig

    config, _ = cliconfig.load(args.config, _flags(args, "kpn-sms"))
    change = None
    if command == "numbers" and args.numbers_command in ("buy", "cancel"):
        # Asked before any request: nothing is bought or cancelled unless confirmed.
        change = cli_numbers.number_and_country(args.number, args.country, config["region"])
        if not cli_numbers.confirm(args, *change, stdin=sys.stdin, stderr=sys.stderr):
            print(cli_numbers.declined(args), file=sys.stderr)
            return EXIT_FAILED
    return asyncio.run(_run_client_command(args, config, change))


async def _run_client_command(
    args: argparse.Namespace, config: dict[str, Any], change: tuple[str, str] | None = None
) -> int:
    from . import token_cache
    from .client import KpnSms

    # `token` checks the credentials: always a fresh token, never one from the cache.
    store = (
        None
        if args.command == "token"
        else token_cache.for_cli(config, disabled=args.no_token_cache)
    )
    async with KpnSms.from_config(config, token_store=store) as sms:
        if args.command == "token":
            token = await sms.authenticate()
            await sms.check_access()  # a token alone does not show the app has the SMS product
            tier = f", account level {token.level}" if token.level else ""
            print(f"credentials OK: token valid for {token.expires_in():.0f}s{tier}, SMS API open")
            return EXIT_OK
        if args.command == "register-webhook":
            return await _register(sms, args)
        if args.command == "numbers":
            await cli_numbers.run(sms, args, change)
            return EXIT_OK
        return await _send(sms, args)


async def _register(sms: Any, args: argparse.Namespace) -> int:
    if bool(args.to) == bool(args.number):
        raise KpnValidationError(
            "register-webhook: give exactly one of --to (demo account) "
            "or --number (virtual number)",
            field="to",
        )
    if args.to:
        print(await sms.register_webhook(args.to, args.url))
    else:
        number, country = cli_numbers.number_and_country(
            args.number, args.country, sms.settings.region
        )
        await sms.update_number(country, number, args.url)
        print(f"inbound texts to {number} now go to {args.url}")
    return EXIT_OK


async def _send(sms: Any, args: argparse.Namespace) -> int:
    from .progress import Progress

    text = sys.stdin.read() if args.text == "-" else args.text
    recipients = args.to or None
    count = len(recipients) if recipients else len(sms.settings.recipients)
    progress = Progress(total=count, enabled=not args.json and count >= 10 and sys.stderr.isatty())
    report = await sms.send(text, recipients, on_result=progress.update, **_flags(args, "send"))
    progress.close()
    if args.json:
        data = _report_json(report, sms.token_requests)
        data["guard"] = sms.guard.stats().to_dict()
        print(json.dumps(data, indent=2))
    else:
        for result in report.results:
            print(_MARKS[result.outcome] + result.describe())
        if report.truncated:
            print("note: the text was cut to fit max_parts (it ends with a marker)")
        print(
            f"{len(report.accepted)}/{len(report)} accepted, {sms.token_requests} token request(s)"
        )
    return EXIT_OK if report.ok else EXIT_FAILED


_MARKS = {"accepted": "ok    ", "failed": "FAILED ", "suppressed": "HELD  "}


def _report_json(report: Any, token_requests: int) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "truncated": report.truncated,
        "token_requests": token_requests,
        "results": [
            {
                "recipient": r.recipient,
                "ok": r.ok,
                "outcome": r.outcome,
                "suppressed": r.suppressed,
                "message_ids": list(r.message_ids),
                "parts": len(r.parts),
                "price": str(r.price) if r.price is not None else None,
                "remaining_balance": str(r.remaining_balance)
                if r.remaining_balance is not None
                else None,
                "network": r.network,
                "status": r.status,
                "reason": r.reason,
                "attempts": r.attempts,
                "permanent": r.permanent,
                "partly_sent": r.partly_sent,
            }
            for r in report.results
        ],
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
