"""The `kpnsms://` Apprise scheme: KPN SMS from Apprise, its CLI and Apprise API.

    kpnsms://{client_id}:{client_secret}@{sender}/{target}/{target}...?{options}

Importing this module registers the scheme with Apprise's process-wide plugin manager. Works
on apprise >= 1.9: newer APIs (`add(force=)`, `is_delivered`/`remember`, the persistent store)
are used when they exist, never assumed. Sending goes through `KpnSmsSync`; this module only
maps URLs to the shared config and reports per recipient the way Apprise plugins do.
"""

# Apprise is typed only in part (untyped helpers, class attributes typed from their None
# defaults), so these checks would flag every use of its documented plugin API.
# mypy: disable-error-code="no-untyped-call,assignment,override,unused-ignore"

from __future__ import annotations

import inspect
import logging
import re
import threading
from typing import Any, ClassVar, NoReturn

from apprise import NotifyBase, NotifyType, PrivacyMode

try:
    from apprise.exception import AppriseImproperlyConfigured
except ImportError:  # apprise < 2.0: plugins refuse a bad URL with TypeError
    AppriseImproperlyConfigured = TypeError  # type: ignore[assignment,misc]

try:
    from apprise import NotificationManager
except ImportError:  # pragma: no cover - exported from the package since 1.9
    from apprise.manager_plugins import NotificationManager

try:
    from apprise.common import PersistentStoreMode
except ImportError:  # pragma: no cover - apprise without a persistent store
    PersistentStoreMode = None  # type: ignore[assignment,misc]

from . import __version__
from .apprise_support import OPTIONS, PROCESS_GUARDS, PROCESS_TOKENS, RENAMED, AppriseTokenStore
from .errors import KpnSmsError, KpnValidationError
from .models import RecipientResult
from .numbers import mask_number, normalize_number
from .protocol import DEFAULT_BASE_URL, SMS_PATH
from .schema import DEFAULTS, validate_config

__all__ = ["SCHEMA", "NotifyKpnSms", "register"]

SCHEMA = "kpnsms"

_LOGGER = logging.getLogger(__name__)
_REGISTER_LOCK = threading.Lock()

# ?to= and YAML `to:` may hold several numbers; spaces stay, since "06 1234 5678" is one.
_TARGET_SPLIT = re.compile(r"[,;]+")

# GSM-7 characters per part of a concatenated SMS (160 for a single one).
_GSM7_PART = 153


def _split_targets(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str | int) else list(value)
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in _TARGET_SPLIT.split(str(item)) if p.strip())
    return out


class NotifyKpnSms(NotifyBase):  # type: ignore[misc]
    """KPN SMS (KPN's resale of the Vonage SMS API, OAuth2 client credentials)."""

    service_name = "KPN SMS"
    service_url = "https://developer.kpn.com/"
    setup_url = "https://github.com/kpn-sms-notify/kpn_sms_notify#apprise"
    secure_protocol = SCHEMA
    protocol = None
    # Not part of Apprise: `apprise --details` shows it apart, with the line below.
    category = "custom"
    requirements: ClassVar[dict[str, Any]] = {
        "details": f"Provided by the kpn-sms-notify package ({__version__}).",
        "packages_required": [],
        "packages_recommended": [],
    }
    notify_url = DEFAULT_BASE_URL + SMS_PATH + "/send"

    # The client composes the title as its own line above the message.
    title_maxlen = 160
    # Only used by Apprise's ?overflow=split/truncate; each instance sets it from max_parts.
    body_maxlen = _GSM7_PART * DEFAULTS["max_parts"]
    # Apprise's throttle() is not used: the client paces itself (?rate_limit=).
    request_rate_per_sec = 0
    if PersistentStoreMode is not None:
        storage_mode = PersistentStoreMode.AUTO

    templates = (
        "{schema}://{client_id}:{client_secret}@{sender}/{targets}",
        "{schema}://{client_id}:{client_secret}@{sender}",
    )
    # Apprise reads these off the class (details(), YAML configs); they are never mutated.
    template_tokens = dict(  # noqa: RUF012
        NotifyBase.template_tokens,
        **{
            "client_id": {"name": "Client ID", "type": "string", "required": True, "private": True},
            "client_secret": {
                "name": "Client Secret",
                "type": "string",
                "required": True,
                "private": True,
            },
            "sender": {
                "name": "Sender ID (up to 11 letters/digits, or a number)",
                "type": "string",
                "required": True,
                "regex": (r"^\+?[a-z0-9]{1,15}$", "i"),
            },
            "target_phone": {"name": "Target Phone No", "type": "string", "map_to": "targets"},
            "targets": {"name": "Targets", "type": "list:string", "required": True},
        },
    )
    template_args = dict(  # noqa: RUF012
        NotifyBase.template_args,
        **{
            "to": {"alias_of": "targets"},
            "from": {"alias_of": "sender"},
            "client_id": {"alias_of": "client_id"},
            "secret": {"alias_of": "client_secret"},
            **{opt.arg: dict(opt.meta) for opt in OPTIONS},
        },
    )

    def __init__(
        self,
        client_id: Any = None,
        client_secret: Any = None,
        sender: Any = None,
        targets: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        raw: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": client_secret,
            "sender": sender,
        }
        for name, value in raw.items():
            if value is None or str(value).strip() == "":
                self._refuse(f"KPN SMS URL: {name} is missing")
        for opt in OPTIONS:
            value = kwargs.get(opt.arg)
            if value is not None and value != "":
                raw[opt.key] = value
        try:
            self.config = validate_config(raw)
        except KpnValidationError as err:
            self._refuse(_url_words(f"KPN SMS URL: {err}"))
        self.client_id: str = self.config["client_id"]
        self.client_secret: str = self.config["client_secret"]
        self.sender: str = self.config["sender"]

        # Invalid targets are kept so url() shows them, and each send() reports them.
        self.targets: list[str] = []
        self.invalid_targets: list[str] = []
        for target in _split_targets(targets):
            try:
                number = normalize_number(target, self.config["region"], field="target")
            except KpnValidationError as err:
                self.logger.warning("KPN SMS: invalid target kept for reporting: %s", err)
                self.invalid_targets.append(target)
                continue
            if number not in self.targets:
                self.targets.append(number)
        if not self.targets and not self.invalid_targets:
            self._refuse("KPN SMS URL: no targets; put phone numbers in the path or ?to=")

        max_parts = self.config["max_parts"]
        self.body_maxlen = 160 if max_parts == 1 else _GSM7_PART * max_parts
        if not self.verify_certificate:
            self.logger.warning("KPN SMS: ?verify=no is ignored; TLS is always verified")

    def _refuse(self, message: str) -> NoReturn:
        self.logger.warning(message)
        raise AppriseImproperlyConfigured(message)

    # -- the URL contract ------------------------------------------------------------------

    @property
    def url_identifier(self) -> tuple[str, ...] | bool:
        # The account (and the gateway it lives on), never the targets: it keys url_id()
        # and so the persistent store that holds the token.
        override = self.__dict__.get("_identifier_override")
        if override is not None:
            return override  # type: ignore[no-any-return]
        return (SCHEMA, self.client_id, self.client_secret, self.config["base_url"])

    @url_identifier.setter
    def url_identifier(self, value: bool) -> None:
        # apprise 1.9 turns the identifier off for ?store=no by assigning False to it.
        self.__dict__["_identifier_override"] = value

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params: dict[str, str] = {}
        for opt in OPTIONS:
            value = self.config.get(opt.key)
            if value is not None and value != opt.meta.get("default"):
                params[opt.arg] = opt.to_url(value)
        params.update(self.url_parameters(*args, privacy=privacy, **kwargs))
        everyone = self.targets + self.invalid_targets
        # Apprise logs privacy URLs; phone numbers are masked in logs like everywhere else.
        targets = "/".join(mask_number(t) if privacy else self.quote(t, safe="+") for t in everyone)
        return "{schema}://{client_id}:{secret}@{sender}/{targets}/?{params}".format(
            schema=SCHEMA,
            client_id=self.pprint(self.client_id, privacy, safe=""),
            secret=self.pprint(self.client_secret, privacy, mode=PrivacyMode.Secret, safe=""),
            sender=self.quote(self.sender, safe="+"),
            targets=targets,
            params=self.urlencode(params),
        )

    def __len__(self) -> int:
        return max(1, len(self.targets) + len(self.invalid_targets))

    def __repr__(self) -> str:  # the privacy URL: no secret, numbers masked
        return f"<NotifyKpnSms {self.url(privacy=True)}>"

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results: dict[str, Any] | None = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return results
        qsd = results["qsd"]
        results["client_id"] = NotifyKpnSms.unquote(results["user"])
        results["client_secret"] = NotifyKpnSms.unquote(results["password"])
        results["sender"] = NotifyKpnSms.unquote(results["host"])
        results["targets"] = NotifyKpnSms.split_path(results["fullpath"])
        # Aliases, for secrets with awkward characters and for YAML configs.
        for arg, key in (
            ("client_id", "client_id"),
            ("secret", "client_secret"),
            ("client_secret", "client_secret"),
        ):
            if qsd.get(arg):
                results[key] = qsd[arg]
        sender = qsd.get("from") or qsd.get("sender")
        if sender:
            # kpnsms://id:secret@0612345678?from=KPNAlert: the host is then a target.
            if results["sender"]:
                results["targets"].insert(0, results["sender"])
            results["sender"] = sender
        if qsd.get("to"):
            results["targets"] += _split_targets(qsd["to"])
        for opt in OPTIONS:
            if opt.arg in qsd:
                results[opt.arg] = qsd[opt.arg]
        return results

    # -- sending ---------------------------------------------------------------------------

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        """Text every target; never raises. False when any target was not accepted."""
        failures: list[str] = []
        for raw in self.invalid_targets:
            shown = mask_number(raw)
            self.logger.warning(
                "Failed to send KPN SMS to %s: not a valid phone number (region %s)",
                shown,
                self.config["region"],
            )
            failures.append(f"{shown} invalid number")
        pending: list[str] = []
        for number in self.targets:
            if self._was_delivered(number):
                # An earlier attempt of this notification (apprise ?retry=) texted it.
                self.logger.debug("KPN SMS: %s already texted; not again", mask_number(number))
                continue
            earlier = self._recall_permanent(number)
            if earlier is not None:
                self.logger.warning(
                    "Failed to send KPN SMS to %s: %s (not retried)", mask_number(number), earlier
                )
                failures.append(f"{mask_number(number)} {earlier}")
                continue
            pending.append(number)
        if pending:
            failures.extend(self._send_to(pending, body, title))
        total = len(self.targets) + len(self.invalid_targets)
        if failures:
            # One ERROR line: Uptime Kuma and friends grep the CLI's output for "ERROR".
            self.logger.error(
                "KPN SMS notification failed for %d of %d recipient(s): %s",
                len(failures),
                total,
                "; ".join(failures),
            )
            return False
        return True

    def _send_to(self, numbers: list[str], body: str, title: str) -> list[str]:
        """Send to `numbers`; return the summary entries of those that failed."""
        # Imported here: httpx costs ~0.25 s, which hosts that import this module at
        # start-up (and `apprise --details`) should not pay before the first notification.
        from .sync_client import KpnSmsSync

        key = PROCESS_TOKENS.key(self.config["base_url"], self.client_id, self.client_secret)
        store = AppriseTokenStore(key, self._persistent_store())
        try:
            with KpnSmsSync.from_config(self.config, token_store=store) as sms:
                sms.guard = PROCESS_GUARDS.get(key, sms.settings)  # the cap spans notifications
                with PROCESS_TOKENS.fetch_lock(key):
                    sms.authenticate()  # from this process or the store, else one request
                report = sms.send(body, numbers, title=title or None)
        except KpnSmsError as err:
            why = err.summary
            for number in numbers:
                self.logger.warning("Failed to send KPN SMS to %s: %s", mask_number(number), err)
            return [f"{mask_number(n)} {why}" for n in numbers]
        except Exception as err:  # a bug must not escape into Apprise's worker threads
            self.logger.warning("KPN SMS: unexpected %s while sending", type(err).__name__)
            self.logger.debug("KPN SMS: unexpected error", exc_info=True)
            return [f"{mask_number(n)} internal error" for n in numbers]
        if report.truncated:
            self.logger.info(
                "KPN SMS: text cut to %d part(s) (?max_parts=, ?sms_overflow=)",
                self.config["max_parts"],
            )
        failures = []
        for result in report.results:
            if result.ok:
                self.logger.info(
                    "Sent KPN SMS to %s (%d part(s))", result.masked, len(result.parts)
                )
                self._mark_delivered(result.recipient)
                continue
            if result.suppressed:  # held back by the send guard: said, not a failure
                self.logger.warning("KPN SMS to %s held back: %s", result.masked, result.reason)
                self._mark_delivered(result.recipient)  # an Apprise retry must not resend it
                continue
            self.logger.warning("Failed to send KPN SMS to %s: %s", result.masked, result.reason)
            short = _short_reason(result)
            if result.permanent:
                self._remember_permanent(result.recipient, short)
            failures.append(f"{result.masked} {short}")
        return failures

    def _persistent_store(self) -> Any | None:
        """Apprise's store for this URL when it writes to disk (the CLI does), else None."""
        if PersistentStoreMode is None or not getattr(self, "persistent_storage", True):
            return None
        try:
            store = self.store
            if store.mode == PersistentStoreMode.MEMORY:
                return None
        except Exception as err:  # no store, or a broken one: the process cache still works
            self.logger.debug("KPN SMS: persistent store unavailable (%s)", type(err).__name__)
            return None
        return store

    # Apprise >= 2.0 tracks who already got this notification across ?retry= attempts.
    def _was_delivered(self, number: str) -> bool:
        check = getattr(self, "is_delivered", None)
        return bool(check(number)) if callable(check) else False

    def _mark_delivered(self, number: str) -> None:
        mark = getattr(self, "mark_delivered", None)
        if callable(mark):
            mark(number)

    def _remember_permanent(self, number: str, reason: str) -> None:
        remember = getattr(self, "remember", None)
        if callable(remember):
            remember(("kpnsms-permanent", number), reason)

    def _recall_permanent(self, number: str) -> str | None:
        recall = getattr(self, "recall", None)
        return recall(("kpnsms-permanent", number)) if callable(recall) else None


def _url_words(message: str) -> str:
    """Name schema keys the way the URL spells them (the schema's overflow is sms_overflow)."""
    message = message.replace("KPN SMS URL: config: ", "KPN SMS URL: ")
    for key, arg in RENAMED.items():
        message = message.replace(f"URL: {key}:", f"URL: {arg}:")
    return message


def _short_reason(result: RecipientResult) -> str:
    if result.partly_sent:
        return f"partly sent (status {result.status})"
    if result.status:
        return f"status {result.status}"
    return result.error.summary if result.error is not None else "failed"


def _add_supports_force(manager: Any) -> bool:
    try:
        return "force" in inspect.signature(manager.add).parameters
    except (TypeError, ValueError):
        return False


def register(*, force: bool = False) -> bool:
    """Map `kpnsms://` to NotifyKpnSms in Apprise's plugin manager; True when it is mapped.

    Idempotent. Call it again after `NotificationManager().unload_modules()` (Apprise's own
    test fixtures do that), which drops every plugin registered from outside Apprise.
    A `kpnsms://` owned by another class is left alone unless `force=True`; an older copy of
    this very class (after `importlib.reload`) is always replaced.
    """
    manager = NotificationManager()
    with _REGISTER_LOCK:
        if SCHEMA in manager:
            current = manager[SCHEMA]
            if current is NotifyKpnSms:
                return True
            ours = (
                getattr(current, "__module__", None) == __name__
                and getattr(current, "__qualname__", None) == NotifyKpnSms.__qualname__
            )
            if not (force or ours):
                _LOGGER.warning(
                    "%s:// is already provided by %r; not replacing it "
                    "(register(force=True) would)",
                    SCHEMA,
                    current,
                )
                return False
            if _add_supports_force(manager):  # apprise >= 1.10
                return bool(manager.add(NotifyKpnSms, force=True))
            manager.remove(SCHEMA)
        return bool(manager.add(NotifyKpnSms))


register()
