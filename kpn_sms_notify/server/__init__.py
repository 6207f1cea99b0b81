"""`kpn-sms serve`: alert webhooks (Alertmanager, Grafana, plain JSON) to SMS, and the
endpoints where KPN delivers inbound texts and delivery receipts.

Modules: config (the `serve:` section), alerts (payloads, routing), text (the SMS text),
dedupe (who was already texted), auth, sinks, journal (restart state), metrics,
alert_routes / inbound_routes (the handlers), app (application, start/stop, `serve`).
"""

from __future__ import annotations

from .app import RunningServer, build_app, serve, start
from .config import ServeConfig, load_config, split_config

__all__ = [
    "RunningServer",
    "ServeConfig",
    "build_app",
    "load_config",
    "serve",
    "split_config",
    "start",
]
