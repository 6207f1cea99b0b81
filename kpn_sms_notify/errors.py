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
"""

from __future__ import annotations


class KpnSmsError(Exception):
    """Base of every kpn_sms_notify error."""


class KpnConnectionError(KpnSmsError):
    """The gateway could not be reached or gave no usable answer."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        # True when the request may have reached the gateway: a retry could text twice.
        self.sent = sent


class KpnTimeoutError(KpnConnectionError):
    """The gateway did not answer in time."""


class KpnAuthError(KpnSmsError):
    """The gateway refused the credentials or the access token."""


class KpnProductError(KpnAuthError):
    """The credentials work, but the gateway refuses this app the API: the app lacks the
    SMS product (Apigee `InvalidAPICallAsNoApiProductMatchFound`), or the resource is in none
    of its products. Renewing the token or retrying does not help; `code` is the fault's
    error code."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class KpnApiError(KpnSmsError):
    """The API answered and refused the request.

    `http_status` is the HTTP status, `status` the Vonage per-message status ("0"–"34") when
    there is one, `code` the gateway's error code, `detail` its text and `recipient` the masked
    number the refusal is about.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        status: str | None = None,
        code: str | None = None,
        detail: str | None = None,
        recipient: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.code = code
        self.detail = detail
        self.recipient = recipient


class KpnRateLimitError(KpnApiError):
    """Throttled, nothing sent: HTTP 429, an Apigee rate-limit fault (`policies.ratelimit.*`,
    on any status, 500 included) or Vonage status 1."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class KpnValidationError(KpnSmsError, ValueError):
    """Bad input, found before any request was made.

    `field` names the config key, argument or payload field; `value` is the offending value,
    already masked when it is a secret or a phone number.
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class UnknownOptionError(KpnValidationError, TypeError):
    """A keyword argument that is no option, such as `sendr=`: bad input (hosts report it like
    any other) and a wrong call (a TypeError, as Python's own would be). The message names the
    closest option: `unknown option 'sendr' — did you mean 'sender'?`."""
