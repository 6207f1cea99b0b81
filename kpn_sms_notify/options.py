"""Every option, declared once: its key, type, default, meaning and where it may be given.

The declaration is a few TypedDicts, one per scope, whose keys carry an `Option`:

- `Credentials`: `client_id`, `client_secret` (the clients' positional arguments);
- `ConnectionOptions`: reaching and pacing the gateway;
- `SendingOptions`: whom to text and how hard to try;
- `GuardOptions`: the storm cap, the daily budget and the low-balance warning (sendguard.py);
- `MessageOptions`: what each text carries; configured defaults, each one overridable per
  `send()`; `TitleOption` and `UrgentOption` only per `send()`.

`ClientOptions` types the clients' keyword arguments and `SendOptions` those of `send()`, so
mypy rejects a misspelt option; `check_names` rejects it at run time, naming the closest
valid one. Everything else is derived from `OPTIONS`: the voluptuous schema (`schema`), the
Apprise URL arguments (`apprise_support`), the CLI flags and `KPN_SMS_*` environment variables
(`cli`, `cliconfig`) and the table of docs/configuration.md (`config_table()`; run this
module to print it).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import NoneType, UnionType
from typing import (
    Annotated,
    Any,
    Literal,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from .encoding import Overflow, UnicodePolicy
from .errors import UnknownOptionError
from .protocol import DEFAULT_BASE_URL


class Scope(StrEnum):
    CONNECTION = "connection"  # the account and the gateway
    SENDING = "sending"  # every text of a client
    MESSAGE = "message"  # one text; a configured default, or given to send()


@dataclass(frozen=True, slots=True)
class Option:
    """What is declared about one option. `key`, `config`, `kind`, `choices`, `scope` and
    `required` are read off its place in the TypedDicts below."""

    meaning: str
    default: Any = None  # None: no default
    minimum: float | None = None
    maximum: float | None = None
    # A check beyond type and range: the name of a validator in `validators` (kept out of this
    # module, which the clients import: voluptuous and phonenumbers load on first use).
    check: str | None = None
    secret: bool = False
    env: bool = False  # read from KPN_SMS_<KEY> by the CLI
    cli: Literal["kpn-sms", "send"] | None = None  # the command that has a --flag for it
    metavar: str | None = None
    url_part: bool = False  # has its own place in a kpnsms:// URL (user, password, host, path)
    url_arg: str | None = None  # its Apprise URL argument, when that is not the key
    label: str = ""  # its name in `apprise --details`
    shown_default: str | None = None  # the default as the docs show it, when not the value
    key: str = ""
    config: bool = True  # False: only an argument of send(), never a config key
    kind: type = str
    choices: tuple[str, ...] = ()
    scope: Scope = Scope.CONNECTION
    required: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def env_name(self) -> str:
        return "KPN_SMS_" + self.key.upper()

    @property
    def arg(self) -> str:
        """Its name in a kpnsms:// URL."""
        return self.url_arg or self.key

    def shown(self) -> str:
        """The default as the docs show it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.required:
            return "required"
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if isinstance(self.default, float) and self.default.is_integer():
            return f"`{int(self.default)}`"
        return f"`{self.default}`"


# ---------------------------------------------------------------- the declaration


class Credentials(TypedDict):
    client_id: Annotated[
        str,
        Option(
            'KPN API Store client id ("consumer key")',
            check="non_empty",
            env=True,
            cli="kpn-sms",
            metavar="ID",
            url_part=True,
        ),
    ]
    client_secret: Annotated[
        str,
        Option(
            "KPN API Store client secret; never logged or shown",
            check="non_empty",
            secret=True,
            env=True,
            url_part=True,
        ),
    ]


class ConnectionOptions(TypedDict, total=False):
    base_url: Annotated[
        str,
        Option(
            "the gateway; plain `http://` only for loopback hosts (the emulator)",
            default=DEFAULT_BASE_URL,
            check="base_url",
            env=True,
            cli="kpn-sms",
            metavar="URL",
            label="Gateway Base URL",
        ),
    ]
    rate_limit: Annotated[
        float,
        Option(
            "requests per second, spaced evenly; Vonage allows 30/s per account",
            default=25.0,
            minimum=0.1,
            maximum=1000,
            label="Rate Limit (requests/s)",
        ),
    ]
    max_concurrency: Annotated[
        int,
        Option(
            "requests in flight at once",
            default=10,
            minimum=1,
            maximum=200,
            label="Max Concurrent Requests",
        ),
    ]
    timeout: Annotated[
        float,
        Option(
            "seconds per HTTP request",
            default=10.0,
            minimum=0.1,
            maximum=300,
            label="Request Timeout (s)",
        ),
    ]
    token_margin: Annotated[
        float,
        Option(
            "renew the token this many seconds before it expires",
            default=300.0,
            minimum=0,
            maximum=3000,
            label="Token Renewal Margin (s)",
        ),
    ]


class SendingOptions(TypedDict, total=False):
    recipients: Annotated[
        Sequence[str] | Mapping[str, str] | str,
        Option(
            "numbers (list, comma-separated string, or a mapping label → number); national "
            "numbers use `region`",
            default=[],
            check="recipients",
            env=True,
            url_part=True,
        ),
    ]
    region: Annotated[
        str,
        Option(
            "default country for national numbers: `0612345678` → `+31612345678`",
            default="NL",
            check="region",
            label="Default Region (ISO code)",
        ),
    ]
    retries: Annotated[
        int,
        Option(
            "extra attempts for a retryable failure",
            default=3,
            minimum=0,
            maximum=10,
            label="Retries per Recipient",
        ),
    ]
    retry_budget: Annotated[
        float,
        Option(
            "seconds a recipient may spend in retries in total",
            default=30.0,
            minimum=0,
            maximum=3600,
            label="Retry Time Budget (s)",
        ),
    ]
    retry_ambiguous: Annotated[
        bool,
        Option(
            "also retry failures after which the text may have gone out (see below)",
            default=False,
            label="Retry Ambiguous Failures",
        ),
    ]
    ttl: Annotated[
        int,
        Option(
            "message validity in ms (20000–604800000)",
            minimum=20000,
            maximum=604800000,
            label="Time to Live (ms)",
        ),
    ]


class GuardOptions(TypedDict, total=False):
    storm_cap: Annotated[
        int,
        Option(
            "texts per recipient per `storm_window`; past it texts are held back (reported as "
            "`suppressed`) and one digest follows when the window ends; `0` turns the cap off",
            default=10,
            minimum=0,
            maximum=10000,
            label="Storm Cap (texts per recipient per window)",
        ),
    ]
    storm_window: Annotated[
        float,
        Option(
            "seconds of the storm cap's window, counted from a recipient's first text",
            default=600.0,
            minimum=1,
            maximum=86400,
            label="Storm Window (s)",
        ),
    ]
    daily_budget: Annotated[
        float,
        Option(
            "spend per day (local time) in the account's currency, counted from the "
            "`message-price` of accepted parts; past it only urgent texts go",
            minimum=0,
            maximum=1000000,
            label="Daily Budget (account currency)",
        ),
    ]
    low_balance: Annotated[
        float,
        Option(
            "warn once when `remaining-balance` falls below this, again after it rose above",
            minimum=0,
            maximum=1000000,
            label="Low Balance Warning",
        ),
    ]
    admins: Annotated[
        Sequence[str] | str,
        Option(
            "numbers that get the budget notice and the low-balance warning by text",
            default=[],
            check="recipients",
            label="Admin Numbers",
        ),
    ]


class MessageOptions(TypedDict, total=False):
    # None: the configured one (for send()), or none configured.
    sender: Annotated[
        str | None,
        Option(
            "sender ID: up to 11 letters/digits without spaces, or a number of up to 15 digits",
            check="sender",
            env=True,
            cli="send",
            metavar="ID",
            url_part=True,
            shown_default="required to send",
        ),
    ]
    max_parts: Annotated[
        int | None,
        Option(
            "cap on SMS parts per text (1–10)",
            default=3,
            minimum=1,
            maximum=10,
            cli="send",
            metavar="N",
            label="Max SMS Parts",
        ),
    ]
    # Apprise owns ?overflow= (upstream/truncate/split) on every plugin.
    overflow: Annotated[
        Overflow | None,
        Option(
            "over `max_parts`: `truncate` (ends with a visible `...`/`…` marker) or `fail`",
            default="truncate",
            cli="send",
            url_arg="sms_overflow",
            label="Past Max Parts (truncate or fail)",
        ),
    ]
    unicode: Annotated[
        UnicodePolicy | None,
        Option(
            "`auto` (GSM-7 when possible, else UCS-2), `always` (UCS-2), `never` (transliterate "
            'to GSM-7: `ë`→`e`, `“`→`"`, others `?`)',
            default="auto",
            cli="send",
            label="Unicode Policy",
        ),
    ]
    status_report: Annotated[
        bool | None,
        Option(
            "ask for delivery receipts (`status-report-req`)",
            default=False,
            label="Request Delivery Receipts",
        ),
    ]
    callback: Annotated[
        str | None,
        Option(
            "delivery-receipt URL (https); setting it turns `status_report` on",
            check="callback",
            label="Delivery Receipt URL",
        ),
    ]
    client_ref: Annotated[
        str | None,
        Option(
            "your reference (≤ 40 characters), echoed in receipts",
            check="client_ref",
            label="Client Reference",
        ),
    ]


class TitleOption(TypedDict, total=False):
    title: Annotated[str | None, Option("a first line above the message", cli="send")]


class UrgentOption(TypedDict, total=False):
    urgent: Annotated[
        bool | None,
        Option("goes past the daily budget (never past the storm cap)", cli="send"),
    ]


class ClientOptions(ConnectionOptions, SendingOptions, GuardOptions, MessageOptions, total=False):
    """The keyword arguments of KpnSms / KpnSmsSync."""


class SendOptions(MessageOptions, TitleOption, UrgentOption, total=False):
    """The keyword arguments of send()."""


# Each part of the declaration: its scope, and whether its keys are config keys.
_SCOPES: tuple[tuple[type, Scope, bool], ...] = (
    (Credentials, Scope.CONNECTION, True),
    (ConnectionOptions, Scope.CONNECTION, True),
    (SendingOptions, Scope.SENDING, True),
    (GuardOptions, Scope.SENDING, True),
    (MessageOptions, Scope.MESSAGE, True),
    (TitleOption, Scope.MESSAGE, False),
    (UrgentOption, Scope.MESSAGE, False),
)


def _declared() -> tuple[Option, ...]:
    out: list[Option] = []
    for typed_dict, scope, config in _SCOPES:
        required: frozenset[str] = typed_dict.__required_keys__  # type: ignore[attr-defined]
        for key, hint in get_type_hints(typed_dict, include_extras=True).items():
            kind, option = get_args(hint)
            if get_origin(kind) in (Union, UnionType):  # `T | None`: None is "not given"
                given = [t for t in get_args(kind) if t is not NoneType]
                kind = given[0] if len(given) == 1 else object  # object: its check says
            choices: tuple[str, ...] = ()
            if get_origin(kind) is Literal:
                choices, kind = get_args(kind), str
            out.append(
                replace(
                    option,
                    key=key,
                    config=config,
                    kind=kind,
                    choices=choices,
                    scope=scope,
                    required=key in required,
                )
            )
    return tuple(out)


OPTIONS: tuple[Option, ...] = _declared()
"""Every option, in declaration order."""

BY_KEY: dict[str, Option] = {option.key: option for option in OPTIONS}
CONFIG_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.config)
CLIENT_KEYS = frozenset(ClientOptions.__optional_keys__)
SEND_KEYS = frozenset(SendOptions.__optional_keys__)


# ---------------------------------------------------------------- unknown names


def check_names(given: Collection[str], valid: Collection[str]) -> None:
    """Raise UnknownOptionError for the first name of `given` that is not in `valid`,
    suggesting the closest valid one."""
    for name in given:
        if name in valid:
            continue
        close = difflib.get_close_matches(name, sorted(valid), n=1)
        if close:
            hint = f" — did you mean {close[0]!r}?"
        else:
            hint = f" (options: {', '.join(sorted(valid))})"
        raise UnknownOptionError(f"unknown option {name!r}{hint}", field=name)


# ---------------------------------------------------------------- the docs


def config_table() -> str:
    """The configuration table of docs/configuration.md, in Markdown."""
    lines = ["| key | scope | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{o.key}` | {o.scope} | {o.shown()} | {o.meaning} |" for o in CONFIG_OPTIONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(config_table(), end="")
