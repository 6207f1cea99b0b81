"""Inbound SMS and delivery receipts: parsing, de-duplication, reassembly, signatures.

Host-neutral and without I/O: Home Assistant and ``kpn-sms serve`` both read a webhook
request's parameters with :func:`webhook_params` (GET query, form or JSON, told apart by the
body's content) and decide themselves what to do with the result.

- :func:`parse_inbound` / :func:`parse_delivery_receipt` turn wire parameters into frozen
  dataclasses. The wire names (``messageId``, ``concat-ref``, ``err-code`` ...) are mapped to
  snake_case in one place, the ``*_FIELDS`` tables in ``wire``.
- The Messages API's shapes (an account set to that API) map onto the same records.
- :class:`InboundAssembler` drops redeliveries (KPN/Vonage deliver at least once) and joins
  the parts of a concatenated text, with bounded memory.
- :class:`SeenReceipts` remembers receipts already handed on, for the same reason.
- :func:`verify_signature` checks the Vonage ``sig`` parameter (md5hash or HMAC);
  :func:`signature_problem` adds the replay window both hosts apply.

The package is split by job: `body` (reading a request body), `wire` (field names and
checks), `messages_api` (the Messages API's names), `messages`, `assembler`, `receipts`,
`signatures`; everything public is imported here.
"""

from __future__ import annotations

from .assembler import InboundAssembler
from .body import decode_json, query_params, webhook_params
from .messages import InboundMessage, InboundPart, parse_inbound
from .receipts import (
    DLR_ERROR_CODES,
    DLR_STATUSES,
    DeliveryOutcome,
    DeliveryReceipt,
    SeenReceipts,
    parse_delivery_receipt,
)
from .signatures import (
    DEFAULT_MAX_SKEW,
    SIGNATURE_METHODS,
    compute_signature,
    signature_problem,
    verify_signature,
)
from .wire import DLR_FIELDS, INBOUND_FIELDS, MAX_FIELD_CHARS

__all__ = [
    "DEFAULT_MAX_SKEW",
    "DLR_ERROR_CODES",
    "DLR_FIELDS",
    "DLR_STATUSES",
    "INBOUND_FIELDS",
    "MAX_FIELD_CHARS",
    "SIGNATURE_METHODS",
    "DeliveryOutcome",
    "DeliveryReceipt",
    "InboundAssembler",
    "InboundMessage",
    "InboundPart",
    "SeenReceipts",
    "compute_signature",
    "decode_json",
    "parse_delivery_receipt",
    "parse_inbound",
    "query_params",
    "signature_problem",
    "verify_signature",
    "webhook_params",
]
