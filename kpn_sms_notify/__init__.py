"""kpn_sms_notify: send alert texts through KPN's SMS API (the Vonage resale).

Importing this package is cheap on purpose: Home Assistant imports it inside its event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "KpnApiError",
    "KpnAuthError",
    "KpnConnectionError",
    "KpnProductError",
    "KpnRateLimitError",
    "KpnSms",
    "KpnSmsError",
    "KpnSmsSync",
    "KpnTimeoutError",
    "KpnValidationError",
    "NumberPage",
    "RecipientResult",
    "SendReport",
    "Token",
    "UnknownOptionError",
    "VirtualNumber",
    "__version__",
    "validate_config",
]

_LAZY = {
    "KpnSms": ".client",
    "KpnSmsSync": ".sync_client",
    "validate_config": ".schema",
    "RecipientResult": ".models",
    "SendReport": ".models",
    "Token": ".models",
    "NumberPage": ".phone_numbers",
    "VirtualNumber": ".phone_numbers",
    "KpnApiError": ".errors",
    "KpnAuthError": ".errors",
    "KpnConnectionError": ".errors",
    "KpnProductError": ".errors",
    "KpnRateLimitError": ".errors",
    "KpnSmsError": ".errors",
    "KpnTimeoutError": ".errors",
    "KpnValidationError": ".errors",
    "UnknownOptionError": ".errors",
}

if TYPE_CHECKING:
    from .client import KpnSms
    from .errors import (
        KpnApiError,
        KpnAuthError,
        KpnConnectionError,
        KpnProductError,
        KpnRateLimitError,
        KpnSmsError,
        KpnTimeoutError,
        KpnValidationError,
        UnknownOptionError,
    )
    from .models import RecipientResult, SendReport, Token
    from .phone_numbers import NumberPage, VirtualNumber
    from .schema import validate_config
    from .sync_client import KpnSmsSync


def __getattr__(name: str) -> Any:
    # Lazy: `import kpn_sms_notify` must not pull in httpx, phonenumbers or voluptuous.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kpn_sms_notify' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
