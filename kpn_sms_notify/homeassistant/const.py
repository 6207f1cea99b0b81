"""Constants of the kpn_sms_notify Home Assistant integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "kpn_sms_notify"
LOGGER = logging.getLogger(__package__)

DEFAULT_NAME: Final = "kpn_sms"  # YAML service name: notify.kpn_sms
DEFAULT_TITLE: Final = "KPN SMS"  # config entry title; also its legacy service notify.kpn_sms

# Config entry data (the library's schema keys plus the integration's own).
CONF_CLIENT_ID: Final = "client_id"
CONF_CLIENT_SECRET: Final = "client_secret"
CONF_SENDER: Final = "sender"
CONF_BASE_URL: Final = "base_url"
CONF_REGION: Final = "region"
CONF_RECIPIENTS: Final = "recipients"
CONF_WEBHOOK_ID: Final = "webhook_id"
CONF_INBOUND_MODE: Final = "inbound_mode"
CONF_INBOUND_NUMBER: Final = "inbound_number"
CONF_SIGNATURE_SECRET: Final = "signature_secret"
CONF_SIGNATURE_METHOD: Final = "signature_method"
CONF_NUMBER: Final = "number"  # recipient subentry data

# How KPN learns our webhook URL: /register (demo/test accounts) or phone-numbers
# number/update (a rented virtual number, production). "none": the user sets it up elsewhere.
INBOUND_NONE: Final = "none"
INBOUND_REGISTER: Final = "register"
INBOUND_NUMBER_UPDATE: Final = "number_update"
INBOUND_MODES: Final = (INBOUND_NONE, INBOUND_REGISTER, INBOUND_NUMBER_UPDATE)

SUBENTRY_RECIPIENT: Final = "recipient"

EVENT_INBOUND: Final = "kpn_sms_notify_inbound"
EVENT_DELIVERY: Final = "kpn_sms_notify_delivery"
EVENT_ACKNOWLEDGED: Final = "kpn_sms_notify_acknowledged"
EVENT_SUPPRESSED: Final = "kpn_sms_notify_suppressed"  # a text held back by the send guard

SERVICE_ASK: Final = "ask"

# Per-call `data` keys of the notify service that the integration itself reads (every
# per-message option of the library is one: kpn_sms_notify.options.MessageOptions).
DATA_STATUS_REPORT: Final = "status_report"
DATA_CALLBACK: Final = "callback"
# ...and one that is not a library option: entities a reply `ACK <ref>` acknowledges.
DATA_ACK: Final = "ack"
DATA_URGENT: Final = "urgent"  # goes past the daily budget

# Webhook bodies are a few hundred bytes; anything this big is not from KPN.
MAX_WEBHOOK_BODY: Final = 64 * 1024

# Never shown in diagnostics.
TO_REDACT: Final = frozenset(
    {CONF_CLIENT_SECRET, CONF_CLIENT_ID, CONF_WEBHOOK_ID, CONF_SIGNATURE_SECRET, "access_token"}
)
