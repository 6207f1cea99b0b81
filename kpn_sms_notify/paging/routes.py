"""The Alertmanager routes and receivers that run the escalation chains.

One sibling route per step, each with `continue: true` and `group_wait` set to the step's
delay, each its own receiver (`<chain>-step<N>`) whose webhook is serve's
`/paging/<chain>/<N>`. Alertmanager then times every step and, in a cluster, sends each
step once. `kpn-sms serve --paging-routes` prints them for the config in use.
"""

from __future__ import annotations

from typing import Any

import yaml

from .config import PagingConfig, format_duration

CHAIN_LABEL = "paging"


def route_config(config: PagingConfig, *, serve_url: str, bearer: bool) -> dict[str, Any]:
    """`route.routes` entries and `receivers` for every chain, as Alertmanager YAML data.

    Each step route matches `paging="<chain>"` (put that label on the alert rules, or
    change the matcher); the credential is a placeholder to replace.
    """
    if bearer:
        http_config: dict[str, Any] = {
            "authorization": {"type": "Bearer", "credentials": "<serve.token>"}
        }
    else:
        http_config = {
            "basic_auth": {
                "username": "<serve.basic_auth.username>",
                "password": "<serve.basic_auth.password>",
            }
        }
    routes: list[dict[str, Any]] = []
    receivers: list[dict[str, Any]] = []
    for chain in config.chains.values():
        for index, step in enumerate(chain.steps):
            name = chain.receiver(index)
            routes.append(
                {
                    "receiver": name,
                    "matchers": [f'{CHAIN_LABEL}="{chain.name}"'],
                    "group_wait": format_duration(step.after),
                    "continue": True,
                }
            )
            receivers.append(
                {
                    "name": name,
                    "webhook_configs": [
                        {
                            "url": f"{serve_url.rstrip('/')}/paging/{chain.name}/{index}",
                            "send_resolved": True,
                            "http_config": http_config,
                        }
                    ],
                }
            )
    return {"route": {"routes": routes}, "receivers": receivers}


def route_yaml(config: PagingConfig, *, serve_url: str, bearer: bool) -> str:
    head = (
        "# Alertmanager: add these routes under route.routes (before any route that would\n"
        "# stop matching) and these receivers; keep group_by, group_interval and\n"
        "# repeat_interval as you like them. Replace the <...> credential.\n"
    )
    data = route_config(config, serve_url=serve_url, bearer=bearer)
    return head + yaml.safe_dump(data, sort_keys=False)
