"""kpn_sms_notify: send alert texts through KPN's SMS API (the Vonage resale)."""

__version__ = "0.1.0"
