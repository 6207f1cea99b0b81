"""The emulator's own control API (not part of KPN's), for tests and tools in other
processes, and the phones' inboxes page.

    GET  /_emulator/state          counters, messages, webhooks, inbound, dlrs, knobs
    POST /_emulator/configure      JSON object of knobs -> {"knobs": {...}}
    POST /_emulator/reset          -> {"reset": true}
    POST /_emulator/expire-tokens  -> {"expired": N}
    POST /_emulator/inbound        {"msisdn", "text", "to"?, "concat_parts"?, "duplicate"?,
                                    "reverse_parts"?} -> the inbound record; or the inbox page's
                                    reply form (msisdn, text, to?; form-encoded) -> 303 to the
                                    page. Delivered to the webhook for `to` as KPN delivers it
    GET  /_emulator/               HTML: each phone's inbox, receipts and a reply form
"""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

from . import keys


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


async def _object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = json.loads((await request.read()).decode("utf-8") or "{}")
    except ValueError as err:  # includes UnicodeDecodeError
        return _json({"error": f"body is not JSON: {err}"}, 400)
    if not isinstance(body, dict):
        return _json({"error": "body must be a JSON object"}, 400)
    return body


async def state(request: web.Request) -> web.Response:
    return _json(request.app[keys.EMULATOR].snapshot())


async def configure(request: web.Request) -> web.Response:
    body = await _object(request)
    if isinstance(body, web.Response):
        return body
    try:
        request.app[keys.EMULATOR].configure(**body)
    except ValueError as err:
        return _json({"error": str(err)}, 400)
    return _json({"knobs": request.app[keys.EMULATOR].snapshot()["knobs"]})


async def reset(request: web.Request) -> web.Response:
    request.app[keys.EMULATOR].reset()
    return _json({"reset": True})


async def expire_tokens(request: web.Request) -> web.Response:
    return _json({"expired": request.app[keys.EMULATOR].expire_tokens()})


async def _inbound_from_form(request: web.Request) -> web.Response:
    """The inbox page's reply form: the phone texts the virtual number, then back to the page."""
    try:
        form = await request.post()
    except ValueError as err:  # includes UnicodeDecodeError: a form that is not UTF-8
        return web.Response(status=400, text=f"reply: the form is not readable: {err}")
    msisdn, text, to = form.get("msisdn"), form.get("text"), form.get("to") or None
    if not isinstance(msisdn, str) or not isinstance(text, str) or not text.strip():
        return web.Response(status=400, text="reply: msisdn and a non-empty text are required")
    if to is not None and not isinstance(to, str):
        return web.Response(status=400, text="reply: to must be a number")
    try:
        request.app[keys.EMULATOR].inject_inbound(msisdn, text, to)
    except ValueError as err:
        return web.Response(status=400, text=f"reply: {err}")
    raise web.HTTPSeeOther("/_emulator/")


async def inbound(request: web.Request) -> web.Response:
    if request.content_type == "application/x-www-form-urlencoded":
        return await _inbound_from_form(request)
    body = await _object(request)
    if isinstance(body, web.Response):
        return body
    msisdn, text = body.get("msisdn"), body.get("text")
    if not isinstance(msisdn, str) or not isinstance(text, str):
        return _json({"error": "msisdn and text are required strings"}, 400)
    extra = set(body) - {"msisdn", "text", "to", "concat_parts", "duplicate", "reverse_parts"}
    if extra:
        return _json({"error": f"unknown field {sorted(extra)[0]!r}"}, 400)
    concat = body.get("concat_parts")
    if concat is not None and (
        not isinstance(concat, int) or isinstance(concat, bool) or concat < 1
    ):
        return _json({"error": f"concat_parts must be a positive integer, got {concat!r}"}, 400)
    to = body.get("to")
    if to is not None and not isinstance(to, str):
        return _json({"error": f"to must be a string, got {to!r}"}, 400)
    try:
        record = request.app[keys.EMULATOR].inject_inbound(
            msisdn,
            text,
            to,
            concat_parts=concat,
            duplicate=bool(body.get("duplicate")),
            reverse_parts=bool(body.get("reverse_parts")),
        )
    except ValueError as err:
        return _json({"error": str(err)}, 400)
    return _json(record)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>KPN emulator: phones</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;background:#f4f4f4}}
.phone{{display:inline-block;vertical-align:top;width:19em;margin:.5em;padding:.8em;
background:#222;border-radius:1.2em;color:#eee}}
.phone h2{{font-size:1em;margin:.2em 0 .6em}}
.msg{{background:#fff;color:#111;border-radius:.8em;padding:.4em .6em;margin:.4em 0;
white-space:pre-wrap}}
.out{{background:#cde;margin-left:2em}}
.meta{{font-size:.75em;color:#666}}
.dlr{{font-size:.75em;color:#8c8;text-align:right}}
.reply{{display:flex;gap:.3em;margin-top:.6em}}
.reply input[type=text]{{flex:1}}
</style>
<script>
// Refresh by itself every 3 s, unless a reply is being typed.
setInterval(() => {{
  const typing = [...document.querySelectorAll("input[name=text]")].some(
    (i) => i.value || i === document.activeElement);
  if (!typing) location.reload();
}}, 3000);
</script></head><body>
<h1>KPN emulator</h1>
<p>{summary}</p>
{phones}
</body></html>
"""


def _bubble(css: str, text: str, meta: str) -> str:
    return (
        f'<div class="{css}">{html.escape(text)}<div class="meta">{html.escape(meta)}</div></div>'
    )


def _receipts(message: dict[str, Any], statuses: dict[str, str]) -> str:
    """The delivery receipts of the text's parts, e.g. "receipt: delivered"."""
    got = [statuses[mid] for mid in message["message_ids"] if mid in statuses]
    if not got:
        return ""
    return f'<div class="dlr">receipt: {html.escape(", ".join(got))}</div>'


def _reply_form(number: str, to: str | None) -> str:
    """The phone's reply box. A reply goes to the number that texted it last (`to`), as a
    phone's does; after a sender ID, which no phone can answer, to the emulator's default."""
    to_field = f'<input type="hidden" name="to" value="{html.escape(to)}">' if to else ""
    return (
        '<form class="reply" method="post" action="/_emulator/inbound">'
        f'<input type="hidden" name="msisdn" value="{html.escape(number)}">{to_field}'
        f'<input type="text" name="text" required aria-label="Reply from +{html.escape(number)}">'
        "<button>Reply</button></form>"
    )


def _inbox_html(snapshot: dict[str, Any]) -> str:
    statuses = {d["messageId"]: d["payload"]["status"] for d in snapshot["dlrs"]}
    phones: dict[str, list[str]] = {}
    reply_to: dict[str, str | None] = {}
    for m in snapshot["messages"]:
        meta = f"from {m['from']} · {m['parts']} part(s) · {m['encoding']} · {m['received_at']}"
        bubble = _bubble("msg", m["text"], meta) + _receipts(m, statuses)
        phones.setdefault(m["to"], []).append(bubble)
        reply_to[m["to"]] = m["from"] if str(m["from"]).isdigit() else None
    for rec in snapshot["inbound"]:  # texts a phone sent: shown on the sender's phone
        states = ", ".join(sorted({p["state"] for p in rec["parts"]}))
        meta = f"to {rec['to']} · {states}"
        phones.setdefault(rec["msisdn"], []).append(_bubble("msg out", rec["text"], meta))
    blocks = [
        f'<div class="phone"><h2>+{html.escape(number)}</h2>{"".join(items)}'
        f"{_reply_form(number, reply_to.get(number))}</div>"
        for number, items in sorted(phones.items())
    ]
    c = snapshot["counters"]
    summary = (
        f"{c['accepted']} messages accepted ({c['parts']} parts) · "
        f"{c['token_requests']} token requests · peak {c['peak_in_flight']} in flight · "
        f"{len(snapshot['dlrs'])} delivery receipts"
    )
    return _PAGE.format(
        summary=html.escape(summary), phones="\n".join(blocks) or "<p>No messages yet.</p>"
    )


async def page(request: web.Request) -> web.Response:
    return web.Response(
        text=_inbox_html(request.app[keys.EMULATOR].snapshot()), content_type="text/html"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_emulator/", page)
    app.router.add_get("/_emulator", page)
    app.router.add_get("/_emulator/state", state)
    app.router.add_post("/_emulator/configure", configure)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_post("/_emulator/expire-tokens", expire_tokens)
    app.router.add_post("/_emulator/inbound", inbound)
