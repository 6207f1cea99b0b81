"""The smallest webhook payloads each parser accepts, and how a refusal is caught: shared by
the inbound tests (tests/test_inbound_*.py), which change one field at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kpn_sms_notify.errors import KpnValidationError

# An inbound text as the SMS API sends it: only what parse_inbound requires.
SMS: dict[str, Any] = {
    "msisdn": "31612345678",
    "to": "3197010000000",
    "messageId": "0A0000000123ABCD1",
    "text": "Hello there",
}
# A delivery receipt as the SMS API sends it: only what parse_delivery_receipt requires.
DLR: dict[str, Any] = {"messageId": "0A00000012345678", "status": "delivered"}


def refusal(parse: Callable[[Any], object], params: Any) -> KpnValidationError:
    """The KpnValidationError `parse` raises for `params` (the test fails if none is raised)."""
    with pytest.raises(KpnValidationError) as caught:
        parse(params)
    return caught.value
