"""The Vonage per-message `status` table (0–34), as KPN's spec and Vonage's docs give it.

`retry` is whether sending the same message again later can succeed without a change on
the caller's side (throttling, transient platform trouble).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatusInfo:
    code: str
    name: str
    meaning: str
    retry: bool


_TABLE: tuple[tuple[int, str, str, bool], ...] = (
    (0, "Success", "accepted for delivery", False),
    (1, "Throttled", "sending faster than the account's limit; wait and retry", True),
    (2, "Missing Parameters", "a required parameter (from, to, text) is missing", False),
    (3, "Invalid Parameters", "a parameter value is invalid", False),
    (4, "Invalid Credentials", "the gateway's Vonage credentials were refused", False),
    (5, "Internal Error", "internal error in the platform; retry with backoff", True),
    (
        6,
        "Invalid Message",
        "message could not be processed, e.g. unrecognised number prefix",
        False,
    ),
    (7, "Number Barred", "the destination number is barred", False),
    (8, "Partner Account Barred", "the account is suspended", False),
    (9, "Partner Quota Violation", "not enough credit to send", False),
    (10, "Too Many Existing Binds", "too many connections to the platform; back off", True),
    (11, "Account Not Enabled For HTTP", "the account is not enabled for the HTTP API", False),
    (12, "Message Too Long", "the message is longer than the platform accepts", False),
    (13, "Communication Failed", "the message was not submitted to the network; retry", True),
    (14, "Invalid Signature", "the request signature was refused", False),
    (15, "Invalid Sender Address", "the sender ID is not allowed for this destination", False),
    (16, "Invalid TTL", "ttl is out of range", False),
    (19, "Facility Not Allowed", "the facility is not enabled on the account", False),
    (20, "Invalid Message Class", "message-class is out of range", False),
    (22, "Invalid Network Code", "the network code is unknown or not allowed", False),
    (23, "Invalid Callback URL", "the callback URL is invalid (it must be https)", False),
    (
        29,
        "Non-Whitelisted Destination",
        "demo account: the number is not on the allowed list",
        False,
    ),
    (32, "Signature And API Secret Disallowed", "both a signature and a secret were given", False),
    (33, "Number De-activated", "the destination number is de-activated", False),
    (34, "Invalid Destination", "the to number is missing or invalid", False),
)

STATUSES: dict[str, StatusInfo] = {
    str(code): StatusInfo(str(code), name, meaning, retry) for code, name, meaning, retry in _TABLE
}


def status_info(code: str | int) -> StatusInfo:
    """The table row for `code`; an unknown code is treated as a permanent failure."""
    key = str(code).strip()
    return STATUSES.get(key) or StatusInfo(key, "Unknown Status", f"unknown status {key}", False)
