"""`kpn-sms demo`: the main job, end to end, on the embedded emulator.

An alert goes to three phones the way a host notification sends it, one token serves all of
them, then a reply and the delivery receipts come back through the webhook.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .client import KpnSms
from .emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from .inbound import InboundAssembler, parse_delivery_receipt, parse_inbound
from .numbers import mask_number, wire_number

PHONES = ["0612345678", "+31687654321", "0031655512345"]
VIRTUAL_NUMBER = "3197010000001"


async def _receiver(inbox: asyncio.Queue[tuple[str, dict[str, Any]]]) -> tuple[web.AppRunner, str]:
    """A webhook on 127.0.0.1 standing in for the user's server (HA or `kpn-sms serve`)."""

    async def handle(request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        await inbox.put((request.match_info["kind"], params))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{kind}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def demo() -> int:
    emulator = Emulator(latency=0.05, webhook_retry_interval=0.5)
    base_url = await emulator.start()
    inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    runner, hook = await _receiver(inbox)
    print(f"KPN emulator on {base_url} (inboxes: {base_url}/_emulator/)")
    try:
        config = {
            "client_id": EMU_CLIENT_ID,
            "client_secret": EMU_CLIENT_SECRET,
            "base_url": base_url,
            "sender": "KPNAlert",
            "recipients": PHONES,
            "callback": f"{hook}/delivery",
        }
        async with KpnSms.from_config(config) as sms:
            print(f"\n1. Registering the inbound webhook {hook}/inbound")
            print("  ", await sms.register_webhook(VIRTUAL_NUMBER, f"{hook}/inbound"))

            print("\n2. Alert from a host notification (title + message) to 3 phones:")
            report = await sms.send(
                "Disk /var is 95% full on web1. Reply ACK to acknowledge.",
                title="[FIRING] DiskFull",
            )
            for result in report.results:
                price = f", price {result.price}" if result.price is not None else ""
                print(f"   {'ok ' if result.ok else 'ERR'} {result.describe()}{price}")
            print(
                f"   token requests: client {sms.token_requests}, "
                f"emulator {emulator.counters['token_requests']} (one token served all)"
            )

            print("\n3. Delivery receipts come back to the callback:")
            for _ in report.accepted:
                kind, params = await asyncio.wait_for(inbox.get(), timeout=10)
                receipt = parse_delivery_receipt(params)
                print(
                    f"   {mask_number(receipt.msisdn)}: {receipt.status} "
                    f"(err-code {receipt.err_code})"
                )

            print("\n4. The on-call engineer replies ACK; it arrives on the inbound webhook:")
            emulator.inject_inbound(
                msisdn=wire_number(sms.settings.recipients[0]), text="ACK", to=VIRTUAL_NUMBER
            )
            assembler = InboundAssembler()
            message = None
            while message is None:
                kind, params = await asyncio.wait_for(inbox.get(), timeout=10)
                if kind == "inbound":
                    message = assembler.feed(parse_inbound(params))
            print(f"   from {mask_number(message.msisdn)} to {message.to}: {message.text!r}")
        ok = report.ok
        print("\nDone: every recipient accepted." if ok else "\nSome recipients failed.")
        return 0 if ok else 1
    finally:
        await runner.cleanup()
        await emulator.stop()


def run_demo() -> int:
    return asyncio.run(demo())
