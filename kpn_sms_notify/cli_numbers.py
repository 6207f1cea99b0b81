"""`kpn-sms numbers list | search | buy | cancel`: the account's virtual numbers on KPN's
Phone Numbers API. Buying and cancelling cost money or a number, so they ask first on a
terminal, and refuse without `--yes` when there is no terminal to ask on."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from .errors import KpnValidationError
from .numbers import mask_number, normalize_number
from .phone_numbers import (
    FEATURES,
    MATCHES,
    MAX_PAGE_SIZE,
    NUMBER_TYPES,
    NumberPage,
    number_country,
)

# What each change does, for the question and the report.
_CHANGES = {
    "buy": ("Rent", "it is billed to your KPN account", "bought"),
    "cancel": ("Cancel the rental of", "its inbound texts stop", "cancelled"),
}


def add_parser(sub: Any) -> None:
    """The `numbers` command and its actions, on the subparsers `sub` of `kpn-sms`."""
    numbers = sub.add_parser(
        "numbers",
        help="virtual numbers: list, search, buy, cancel (Phone Numbers API)",
        description="The account's virtual numbers on KPN's Phone Numbers API "
        "(the KPN app must be in production for that API).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = numbers.add_subparsers(dest="numbers_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the numbers this account rents")
    _page_flags(listing)
    search = actions.add_parser("search", help="numbers for sale")
    search.add_argument(
        "--country",
        metavar="CC",
        help="ISO country code, such as NL (default: the configured region)",
    )
    search.add_argument(
        "--features",
        metavar="LIST",
        default="SMS",
        help=f"what the number must do: {', '.join(FEATURES)}, or both as SMS,VOICE (default SMS)",
    )
    search.add_argument(
        "--type", dest="number_type", metavar="TYPE", help=f"number type: {', '.join(NUMBER_TYPES)}"
    )
    _page_flags(search)
    for action, (verb, cost, _) in _CHANGES.items():
        change = actions.add_parser(action, help=f"{verb.lower()} a number ({cost})")
        change.add_argument("number", metavar="NUMBER", help="the number, such as +3197012345678")
        change.add_argument(
            "--country", metavar="CC", help="its ISO country code (default: the number's own)"
        )
        change.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        change.add_argument("--json", action="store_true", help="print the result as JSON")
    # `kpn-sms numbers --help` shows every action's flags, not only the action names.
    usages = (p.format_usage().removeprefix("usage: ") for p in actions.choices.values())
    numbers.epilog = "actions:\n" + "".join(f"  {u}" for u in usages)


def _page_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", metavar="DIGITS", help="only numbers with these digits")
    parser.add_argument(
        "--match",
        metavar="WHERE",
        default="start",
        help=f"where --pattern matches: {', '.join(MATCHES)} (default start)",
    )
    parser.add_argument(
        "--size",
        metavar="N",
        type=int,
        default=10,
        help=f"numbers per page, 1 to {MAX_PAGE_SIZE} (default 10)",
    )
    parser.add_argument("--index", metavar="N", type=int, default=1, help="page number (default 1)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")


def number_and_country(raw: str, country: str | None, region: str) -> tuple[str, str]:
    """The canonical number a command names (`--number`, a buy or cancel) and its country:
    the one given, else the number's own."""
    number = normalize_number(raw, region, field="number")
    return number, number_country(number, country)


def confirm(
    args: argparse.Namespace, number: str, country: str, stdin: TextIO, stderr: TextIO
) -> bool:
    """True when buy or cancel may go ahead: `--yes`, or "y" typed on the terminal. Without a
    terminal and without `--yes`, raises KpnValidationError: nobody could have said yes."""
    action = args.numbers_command
    verb, cost, _ = _CHANGES[action]
    if args.yes:
        return True
    if not stdin.isatty():
        raise KpnValidationError(
            f"numbers {action}: stdin is not a terminal, so there is nobody to confirm "
            f"with: add --yes to {action} {mask_number(number)}",
            field="yes",
            value=False,
        )
    stderr.write(f"{verb} {number} ({country})? {cost[0].upper()}{cost[1:]}. [y/N] ")
    stderr.flush()
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


async def run(sms: Any, args: argparse.Namespace, target: tuple[str, str] | None) -> None:
    """Make the call and print its result (`target`: a confirmed buy or cancel)."""
    action = args.numbers_command
    if target is not None:
        number, country = target
        if action == "buy":
            await sms.buy_number(number, country=country)
        else:
            await sms.cancel_number(number, country=country)
        _print_change(args, number, country)
        return
    page_args = {"pattern": args.pattern, "match": args.match, "size": args.size}
    if action == "list":
        page = await sms.list_numbers(index=args.index, **page_args)
    else:
        page = await sms.search_numbers(
            country=args.country,
            features=args.features.split(","),
            number_type=args.number_type,
            index=args.index,
            **page_args,
        )
    _print_page(args, page)


def _print_page(args: argparse.Namespace, page: NumberPage) -> None:
    if args.json:
        print(json.dumps(page.to_dict(), indent=2))
        return
    for n in page.numbers:
        inbound = f"  inbound -> {n.inbound_url}" if n.inbound_url else ""
        kind = n.type or "-"
        print(f"{n.number}  {n.country}  {kind}  {','.join(n.features) or '-'}{inbound}")
    what = "rented" if args.numbers_command == "list" else "for sale"
    more = " (--index for the next page)" if args.index * args.size < page.count else ""
    print(f"{len(page.numbers)} shown of {page.count} {what}{more}")


def _print_change(args: argparse.Namespace, number: str, country: str) -> None:
    action = args.numbers_command
    if args.json:
        print(json.dumps({"ok": True, "action": action, "number": number, "country": country}))
        return
    print(f"{_CHANGES[action][2]} {number} ({country})")
    if action == "buy":
        print(f"next: kpn-sms register-webhook URL --number {number}  (where its replies go)")


def declined(args: argparse.Namespace) -> str:
    """The line printed when the question was not answered yes."""
    return f"kpn-sms: numbers {args.numbers_command}: not confirmed; nothing changed"
