"""What a phone reads: pages, confirmations, notes to the others, answers to replies.

Short and GSM-7 only (no dashes or quotes beyond ASCII), so each is one SMS part where it can
be. A page starts with its reference, so a truncated text still carries it.
"""

from __future__ import annotations

from collections.abc import Sequence


def page(ref: str, rendered: str) -> str:
    return f"[{ref}] {rendered}\nReply ACK {ref} to acknowledge."


def page_resolved(ref: str, rendered: str) -> str:
    return f"[{ref}] {rendered}"


def confirmed(ref: str, title: str) -> str:
    return f"ACK {ref}: {title} acknowledged until it resolves. UNACK {ref} undoes it."


def acked_note(ref: str, title: str, by: str) -> str:
    return f"{ref} {title}: acknowledged by {by}. No further pages."


def already_acked(ref: str, title: str, by: str) -> str:
    return f"{ref} {title} was already acknowledged by {by}."


def resolved(ref: str, title: str, by: str) -> str:
    return f"[RESOLVED] {ref} {title} (acknowledged by {by})"


def unacked(ref: str, title: str) -> str:
    return f"UNACK {ref}: {title} is no longer acknowledged; paging resumes."


def not_acked(ref: str) -> str:
    return f"{ref} is not acknowledged. STATUS lists your open pages."


def unknown(ref: str) -> str:
    return f"No open page {ref}. STATUS lists your open pages."


def nothing_open() -> str:
    return "No open page to acknowledge. STATUS lists your open pages."


def which(choices: Sequence[tuple[str, str]]) -> str:
    listed = "; ".join(f"ACK {ref} ({title})" for ref, title in choices)
    return f"Several open pages. Reply {listed}"


def status(lines: Sequence[tuple[str, str, str | None]]) -> str:
    if not lines:
        return "No open pages."
    shown = "; ".join(
        f"{ref} {title}" + (f" (acked by {by})" if by else "") for ref, title, by in lines
    )
    return f"Open pages: {shown}"


def help_text() -> str:
    return (
        "Reply ACK <ref> to acknowledge a page (ACK alone if you have one open), "
        "UNACK <ref> to undo it, STATUS for your open pages."
    )


def not_understood() -> str:
    return "Not understood. " + help_text()
