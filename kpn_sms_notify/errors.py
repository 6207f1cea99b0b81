"""The error tree. Every error raised to a caller is one of these.

```
KpnSmsError                      base; str() never holds a secret or a full phone number
├── KpnConnectionError           could not reach the gateway, or got no usable answer
│   └── KpnTimeoutError
├── KpnAuthError                 credentials refused, or a token refused after one renewal
│   └── KpnProductError          the app lacks the SMS product: fix it in KPN's API Store
├── KpnApiError                  the API said no (status, code, detail, recipient)
│   └── KpnRateLimitError        .retry_after in seconds, when known
└── KpnValidationError           bad input (also a ValueError): .field, .value
    └── UnknownOptionError       a keyword that is no option (also a TypeError)
```

"Could not reach" and "the API said no" are separate branches because hosts react to
them differently: retry later versus fix the request or re-authenticate.

Every error also carries the one classification the hosts (Home Assistant, Apprise, serve,
the CLI) act on, so none of them sorts errors its own way:

- `kind`: what went wrong, one `Kind` per class (input, credentials, product, throttled,
  unreachable, refused);
- `transient`: nothing was sent, and the same request may go through later unchanged;
- `ambiguous`: the request may have reached the gateway (`sent`), with no answer saying
  what became of it: sending again may text the person twice;
- `permanent`: sending this text to this recipient again cannot succeed.

Refused credentials and a missing SMS product are none of the three: nothing was sent,
and the same text goes through once the setup is fixed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Kind(StrEnum):
    """What went wrong, in one word."""

    INPUT = "input"  # bad input, found before any request: fix the request
    CREDENTIALS = "credentials"  # the login or the token was refused: fix the credentials
    PRODUCT = "product"  # the app lacks the SMS product: add it in KPN's API Store
    THROTTLED = "throttled"  # sent too fast, nothing sent: wait
    UNREACHABLE = "unreachable"  # no usable answer from the gateway
    REFUSED = "refused"  # the API answered and said no


# A few words per kind, for one-line summaries (Apprise's failure line).
_SUMMARIES = {
    Kind.INPUT: "not sent (input)",
    Kind.CREDENTIALS: "credentials refused",
    Kind.PRODUCT: "SMS product missing from the KPN app",
    Kind.THROTTLED: "throttled, not sent",
    Kind.UNREACHABLE: "gateway unreachable",
    Kind.REFUSED: "refused by the gateway",
}


class KpnSmsError(Exception):
    """Base of every kpn_sms_notify error."""

    kind: ClassVar[Kind] = Kind.REFUSED
    # Per error; these class values are the defaults (see the module docstring).
    sent: bool = False  # the request may have reached the gateway and texted someone
    transient: bool = False
    permanent: bool = False

    @property
    def ambiguous(self) -> bool:
        """The request may have texted someone, and nothing says whether it did."""
        return self.sent and not self.permanent

    @property
    def summary(self) -> str:
        """A few words on what went wrong, without the details of `str()`."""
        return _SUMMARIES[self.kind]


class KpnConnectionError(KpnSmsError):
    """The gateway could not be reached or gave no usable answer.

    Transient unless the request may have gone out (`sent`): then it is ambiguous.
    """

    kind = Kind.UNREACHABLE

    def __init__(self, message: str, *, sent: bool = False, transient: bool | None = None) -> None:
        super().__init__(message)
        # True when the request may have reached the gateway: a retry could text twice.
        self.sent = sent
        self.transient = not sent if transient is None else transient


class KpnTimeoutError(KpnConnectionError):
    """The gateway did not answer in time."""


class KpnAuthError(KpnSmsError):
    """The gateway refused the credentials or the access token. `sent` is set when the
    refusal came on an HTTP status that leaves a text's fate open (500, 502, 504)."""

    kind = Kind.CREDENTIALS

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


class KpnProductError(KpnAuthError):
    """The credentials work, but the gateway refuses this app the API: the app lacks the
    SMS product (Apigee `InvalidAPICallAsNoApiProductMatchFound`), or the resource is in none
    of its products. Renewing the token or retrying does not help; `code` is the fault's
    error code."""

    kind = Kind.PRODUCT

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class KpnApiError(KpnSmsError):
    """The API answered and refused the request.

    `http_status` is the HTTP status, `status` the Vonage per-message status ("0"–"34") when
    there is one, `code` the gateway's error code, `detail` its text and `recipient` the masked
    number the refusal is about.

    Permanent unless the refusal is `transient` (HTTP 503, a temporary Vonage status) or the
    request may have gone out (`sent`: HTTP 500, 502, 504). `partly_sent`: some parts of a
    long text were accepted, so it is permanent, as sending again would repeat them.
    """

    kind = Kind.REFUSED

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        status: str | None = None,
        code: str | None = None,
        detail: str | None = None,
        recipient: str | None = None,
        transient: bool = False,
        sent: bool = False,
        partly_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.code = code
        self.detail = detail
        self.recipient = recipient
        self.sent = sent or partly_sent
        self.transient = transient and not self.sent
        self.permanent = partly_sent or not (transient or sent)


class KpnRateLimitError(KpnApiError):
    """Throttled, nothing sent: HTTP 429, an Apigee rate-limit fault (`policies.ratelimit.*`,
    on any status, 500 included) or Vonage status 1. Always transient."""

    kind = Kind.THROTTLED

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.sent, self.transient, self.permanent = False, True, False


class KpnValidationError(KpnSmsError, ValueError):
    """Bad input, found before any request was made.

    `field` names the config key, argument or payload field; `value` is the offending value,
    already masked when it is a secret or a phone number.
    """

    kind = Kind.INPUT
    permanent = True

    @property
    def summary(self) -> str:
        return f"not sent ({self.field or 'input'})"

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class UnknownOptionError(KpnValidationError, TypeError):
    """A keyword argument that is no option, such as `sendr=`: bad input (hosts report it like
    any other) and a wrong call (a TypeError, as Python's own would be). The message names the
    closest option: `unknown option 'sendr' — did you mean 'sender'?`."""
