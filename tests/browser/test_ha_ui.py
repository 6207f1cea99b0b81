"""A person's way through Home Assistant's UI, in a real Chromium: log in, add the integration
(a wrong secret first, then with inbound texts), add a recipient, send a text from Developer
tools, find it at the emulator, see a reply in Developer tools > Events, change the sender
through Reconfigure, and give a changed secret through reauth. One token request serves the
setup, the reload after adding the recipient and the text.
Checks what the user sees: the integration's strings from translations/en.json, no raw keys,
no secret echoed back; and a clean hass log.

Selectors, traps and timings: the reference page on driving HA's UI (shared reference,
browser-ha-ui.md). Every wait has a deadline; there are no fixed sleeps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_common import DOCS_SCREENSHOTS, REPO, Hass, missing

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

# The browser lane sets KPN_REQUIRE_BROWSER=1: there a missing browser or playwright fails.
# Elsewhere (a plain pytest run) this module is skipped, saying why.
if missing():
    if os.environ.get("KPN_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"the browser suite needs {', '.join(missing())}")
    pytest.skip(f"needs {', '.join(missing())}", allow_module_level=True)

from browser_steps import StepFailed, Steps
from playwright.sync_api import Page, expect

TRANSLATIONS = json.loads(
    (REPO / "kpn_sms_notify" / "homeassistant" / "translations" / "en.json").read_text()
)
CONFIG = TRANSLATIONS["config"]
RECIPIENT = TRANSLATIONS["config_subentries"]["recipient"]

USER, PASSWORD = "ui", "ui-password-1"
SENDER, NEW_SENDER = "HomeAlert", "KPNTest"
ALICE_NUMBER, ALICE_E164 = "0612345678", "31612345678"
INBOUND_NUMBER = "0687654321"  # the demo account's test number that receives replies
WRONG_SECRET = "not-the-secret-" + uuid.uuid4().hex[:8]
ROTATED_SECRET = "rotated-secret-" + uuid.uuid4().hex[:8]
DELIVERY_TIMEOUT = 30.0  # seconds from "Perform action" until the emulator has the text
# Home Assistant's frontend refetches the service list 5 s after a reload registers services:
# no step may count on less than that.
STEP = 60.0


# The whole test's bound, within the lane's 300 s cap; it takes about 25 s, 35 s on a busy machine.
@pytest.mark.timeout(150)
def test_set_up_add_recipient_and_send_through_the_ui(
    hass: Hass, emulator: Emulator, page: Page, artifacts: Path
) -> None:
    steps = Steps(page, artifacts)
    assert emulator.url is not None
    message = f"Hello from the browser {uuid.uuid4().hex[:8]}"

    token = log_in_and_open_the_config_form(steps, page, hass)

    with steps.step("config flow: a wrong secret shows the translated error", STEP):
        fill_config_form(page, secret=WRONG_SECRET, base_url=emulator.url)
        steps.screenshot("config-form")
        page.get_by_role("button", name="Submit").click()
        error = page.get_by_text(CONFIG["error"]["invalid_auth"], exact=True)
        expect(error).to_be_visible()
        error.scroll_into_view_if_needed()
        steps.screenshot("config-form-error")
        # The secret is not echoed back; what the user typed otherwise is kept.
        expect(page.get_by_label("Client secret", exact=True)).to_have_value("")
        expect(page.get_by_label("Client ID", exact=True)).to_have_value(EMU_CLIENT_ID)
        expect(page.get_by_label("API address", exact=True)).to_have_value(emulator.url)
        texts, values = steps.visible()
        assert EMU_CLIENT_ID in values  # the inputs' values were read
        assert not [t for t in texts + values if WRONG_SECRET in t]
        steps.assert_no_raw_keys(CONFIG["error"]["invalid_auth"])

    # The emulator counts every token request, the refused one too.
    refused_logins = emulator.counters["token_requests"]
    assert refused_logins == 1

    with steps.step("config flow: the right credentials create the entry", STEP):
        fill_config_form(page, secret=EMU_CLIENT_SECRET, base_url=emulator.url)
        # Inbound: a demo account registers its test number with KPN (the emulator).
        labels = CONFIG["step"]["user"]["data"]
        page.get_by_label(labels["inbound_mode"], exact=True).click()
        page.get_by_role(
            "option", name=TRANSLATIONS["selector"]["inbound_mode"]["options"]["register"]
        ).click()
        page.get_by_label(labels["inbound_number"], exact=True).fill(INBOUND_NUMBER)
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_text("Created configuration for KPN SMS.")).to_be_visible()
        page.get_by_role("button", name="Finish").click()

    with steps.step("entry menu > Add recipient", STEP):
        # After "Finish", HA shows the integration's page with the new entry.
        entry = page.locator("ha-md-list-item").filter(has=page.get_by_text("KPN SMS", exact=True))
        entry.get_by_role("button", name="Menu").first.click()
        page.get_by_role("menuitem", name=RECIPIENT["initiate_flow"]["user"]).click()
        form = RECIPIENT["step"]["user"]
        expect(page.get_by_text(form["title"], exact=True)).to_be_visible()
        page.get_by_label(form["data"]["name"], exact=True).fill("Alice")
        page.get_by_label(form["data"]["number"], exact=True).fill(ALICE_NUMBER)
        steps.assert_no_raw_keys(form["description"], form["data_description"]["number"])
        steps.screenshot("recipient-form")
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_text("Created configuration for Alice.")).to_be_visible()
        page.get_by_role("button", name="Finish").click()

    with steps.step("Home Assistant has reloaded the entry with the recipient's entity", STEP):
        # The reload re-registers services; the frontend then blanks and refetches the
        # action's fields (5 s later). Open Developer tools only once the reload is done.
        wait_for_entity(hass.url, token, "KPN SMS Alice", STEP)

    with steps.step("Developer tools > Actions > notify.send_message", STEP):
        page.locator("ha-sidebar").get_by_text("Developer tools", exact=True).click()
        page.get_by_role("tab", name="Actions").click()
        page.get_by_role("combobox", name="Action").fill("notify.send_message")
        page.get_by_role("option", name="Send a notification message").click()
        page.get_by_text("Choose entity", exact=True).click()
        page.get_by_role("option", name="KPN SMS Alice").click()
        field_row(page, "Message").get_by_role("textbox").fill(message)
        title = field_row(page, "Title")
        title.get_by_role("checkbox").check()
        title.get_by_role("textbox").fill("UI test")
        steps.screenshot("action-form")
        page.get_by_role("button", name="Perform action").click()

    with steps.step("the text arrives at the emulator", DELIVERY_TIMEOUT + 5):
        sent = wait_for_message(page, emulator.url, ALICE_E164, f"UI test\n{message}")
        assert sent["from"] == SENDER
    # Authenticated once: the config flow's token served the setup, the reload after adding
    # the recipient, and the text.
    setup_and_send_tokens = emulator.counters["token_requests"] - refused_logins
    assert setup_and_send_tokens == 1

    with steps.step("the emulator's inbox page shows it", STEP):
        page.goto(emulator.url + "/_emulator/")
        expect(page.get_by_text(message)).to_be_visible()
        # The phone of the recipient, and the text's sender, parts and encoding.
        expect(page.get_by_text(f"+{ALICE_E164}", exact=True)).to_be_visible()
        expect(page.get_by_text(f"from {SENDER} · 1 part(s) · gsm7")).to_be_visible()
        # A reply typed on Alice's phone shows as a bubble on her side.
        typed = f"Typed on the phone {uuid.uuid4().hex[:8]}"
        page.get_by_label(f"Reply from +{ALICE_E164}", exact=True).fill(typed)
        page.get_by_role("button", name="Reply").click()
        expect(page.locator(".msg.out", has_text=typed)).to_be_visible()
        steps.screenshot("emulator-inbox")

    with steps.step("Developer tools > Events: a reply shows up", STEP):
        page.goto(hass.url + "/developer-tools/event")
        page.get_by_label("Event to subscribe to").fill("kpn_sms_notify_inbound")
        page.get_by_role("button", name="Start listening").click()
        reply = f"Reply from Alice {uuid.uuid4().hex[:8]}"
        httpx.post(
            emulator.url + "/_emulator/inbound",
            json={"msisdn": ALICE_E164, "text": reply},
            trust_env=False,
            timeout=10,
        ).raise_for_status()
        expect(page.get_by_text(reply)).to_be_visible()
        steps.screenshot("events-inbound")

    with steps.step("entry menu > Reconfigure: change the sender", STEP):
        page.goto(hass.url + "/config/integrations/integration/kpn_sms_notify")
        entry = page.locator("ha-md-list-item").filter(has=page.get_by_text("KPN SMS", exact=True))
        entry.get_by_role("button", name="Menu").first.click()
        page.get_by_role("menuitem", name="Reconfigure").click()
        form = CONFIG["step"]["reconfigure"]
        expect(page.get_by_text(form["title"], exact=True)).to_be_visible()
        steps.assert_no_raw_keys(form["description"], *form["data"].values())
        # The stored values are offered again, the stored secret is not.
        expect(page.get_by_label(form["data"]["sender"], exact=True)).to_have_value(SENDER)
        expect(page.get_by_label(form["data"]["client_secret"], exact=True)).to_have_value("")
        _, values = steps.visible()
        assert EMU_CLIENT_ID in values
        assert not [v for v in values if EMU_CLIENT_SECRET in v]
        page.get_by_label(form["data"]["sender"], exact=True).fill(NEW_SENDER)
        steps.screenshot("reconfigure-form")
        page.get_by_role("button", name="Submit").click()
        expect(
            page.get_by_text(CONFIG["abort"]["reconfigure_successful"], exact=True)
        ).to_be_visible()

    # The secret changes at KPN, which revokes the tokens of the old one: the next text is
    # refused, its token renewal too, and HA asks the user for the new secret. (A reload
    # alone reuses the token it has until it expires, so it would not notice.)
    emulator.configure(client_secret=ROTATED_SECRET)
    emulator.expire_tokens()
    with steps.step("KPN refuses the old secret: a text fails", STEP):
        status = call_service(
            hass.url,
            token,
            "notify",
            "send_message",
            {"entity_id": "notify.kpn_sms_alice", "message": "refused"},
        )
        assert status >= 400, status
        page.goto(hass.url + "/config/integrations/integration/kpn_sms_notify")

    with steps.step("Settings > Authentication expired > the new secret", STEP):
        page.locator("ha-sidebar").get_by_text("Settings", exact=True).click()
        page.get_by_text("Authentication expired for KPN SMS", exact=True).click()
        form = CONFIG["step"]["reauth_confirm"]
        expect(page.get_by_text(form["title"], exact=True)).to_be_visible()
        steps.assert_no_raw_keys(
            form["description"].format(client_id=EMU_CLIENT_ID), form["data"]["client_secret"]
        )
        steps.screenshot("reauth-form")
        page.get_by_label(form["data"]["client_secret"], exact=True).fill(ROTATED_SECRET)
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_text(CONFIG["abort"]["reauth_successful"], exact=True)).to_be_visible()

    log = hass.log_text()
    assert "Detected blocking call" not in log
    # HA's log lines: "<date> <time> LEVEL (thread) [logger] message". The integration's DEBUG
    # lines show the pattern matches; none of its lines is an ERROR.
    ours = re.compile(r" (?P<level>[A-Z]+) \([^)]*\) \[(custom_components\.)?kpn_sms_notify")
    levels = [m["level"] for m in map(ours.search, log.splitlines()) if m]
    assert "DEBUG" in levels
    assert not {"ERROR", "CRITICAL"} & set(levels), hass.log_text()[-5000:]
    assert EMU_CLIENT_SECRET not in log
    assert WRONG_SECRET not in log
    assert ROTATED_SECRET not in log
    assert ALICE_E164 not in log  # numbers are masked in logs

    print("steps:", ", ".join(f"{name} {secs:.1f} s" for name, secs in steps.timings))
    print(
        "token requests at the emulator:",
        emulator.counters["token_requests"],
        f"(setup and first text: {setup_and_send_tokens}; refused logins before: {refused_logins})",
    )
    if os.environ.get("KPN_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for png in sorted((artifacts / "screenshots").glob("*.png")):
            shutil.copyfile(png, DOCS_SCREENSHOTS / png.name)


@pytest.mark.broken_translation("config", "step", "user", "data", "client_id")
@pytest.mark.timeout(100)  # about 10 s
def test_a_broken_translation_fails_with_a_screenshot(
    hass: Hass, page: Page, artifacts: Path
) -> None:
    """The check can fail: with the client ID's label missing from the installed
    translations/en.json, the config form step fails, naming the label, with a screenshot."""
    steps = Steps(page, artifacts / "broken-translation")
    with pytest.raises(StepFailed, match=r"not shown on the page: \['Client ID'\]") as failure:
        log_in_and_open_the_config_form(steps, page, hass)
    assert "step 'Settings > Devices & services > Add integration > KPN SMS'" in str(failure.value)
    assert (artifacts / "broken-translation" / f"FAIL-{CONFIG_FORM_SLUG}.png").stat().st_size


CONFIG_FORM_STEP = "Settings > Devices & services > Add integration > KPN SMS"
CONFIG_FORM_SLUG = "settings-devices-services-add-integration-kpn-sms"


def log_in_and_open_the_config_form(steps: Steps, page: Page, hass: Hass) -> str:
    """Up to the integration's first form; returns the owner's access token."""
    with steps.step("onboarding (REST)", STEP):
        token = onboard(hass.url)

    with steps.step("log in on the login page", STEP):
        page.goto(hass.url + "/")
        page.get_by_label("Username", exact=True).fill(USER)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/lovelace"))

    with steps.step(CONFIG_FORM_STEP, STEP):
        page.locator("ha-sidebar").get_by_text("Settings", exact=True).click()
        page.get_by_text("Devices & services", exact=True).click()
        page.get_by_role("button", name="Add integration").click()
        page.get_by_label("Search for a brand name").fill("KPN")
        page.get_by_text("KPN SMS", exact=True).click()
        user_step = CONFIG["step"]["user"]
        expect(page.get_by_text(user_step["title"], exact=True)).to_be_visible()
        # Every label and help text of the form is shown as en.json has it.
        steps.assert_no_raw_keys(
            user_step["title"],
            user_step["description"],
            *user_step["data"].values(),
            *user_step["data_description"].values(),
        )
        for field in ("client_id", "client_secret", "sender", "base_url"):
            expect(page.get_by_label(user_step["data"][field], exact=True)).to_be_visible()
    return token


def onboard(url: str) -> str:
    """HA's REST onboarding: the owner, then the remaining steps; returns the owner's access
    token. The pages of onboarding are HA's and change between releases; the login page that
    follows is the real one."""
    client_id = url + "/"
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
        answer = client.post(
            "/api/onboarding/users",
            json={
                "client_id": client_id,
                "name": "UI test",
                "username": USER,
                "password": PASSWORD,
                "language": "en",
            },
        )
        answer.raise_for_status()
        token = client.post(
            "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": answer.json()["auth_code"],
                "client_id": client_id,
            },
        )
        token.raise_for_status()
        access_token = str(token.json()["access_token"])
        headers = {"Authorization": f"Bearer {access_token}"}
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            (
                "integration",
                {"client_id": client_id, "redirect_uri": client_id + "?auth_callback=1"},
            ),
        ):
            client.post(f"/api/onboarding/{step}", json=body, headers=headers).raise_for_status()
        return access_token


def wait_for_entity(url: str, token: str, name: str, timeout: float) -> None:
    """Polls HA's REST API until a notify entity with this friendly name exists."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, trust_env=False, timeout=10, headers=headers) as client:
        while time.monotonic() < deadline:
            states = client.get("/api/states").json()
            if any(
                s["entity_id"].startswith("notify.")
                and s["attributes"].get("friendly_name") == name
                for s in states
            ):
                return
            time.sleep(0.2)  # a poll interval, bounded by the deadline above
    pytest.fail(f"no notify entity {name!r} within {timeout} s")


def call_service(url: str, token: str, domain: str, service: str, data: dict[str, Any]) -> int:
    """Calls an action through HA's REST API; returns the HTTP status."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, trust_env=False, timeout=30, headers=headers) as client:
        return client.post(f"/api/services/{domain}/{service}", json=data).status_code


def fill_config_form(page: Page, *, secret: str, base_url: str) -> None:
    labels = CONFIG["step"]["user"]["data"]
    page.get_by_label(labels["client_id"], exact=True).fill(EMU_CLIENT_ID)
    page.get_by_label(labels["client_secret"], exact=True).fill(secret)
    page.get_by_label(labels["sender"], exact=True).fill(SENDER)
    page.get_by_label(labels["base_url"], exact=True).fill(base_url)


def field_row(page: Page, heading: str) -> Any:
    """A service field's row in Developer tools (its inputs have no labels of their own)."""
    return page.locator("ha-settings-row").filter(has=page.get_by_text(heading, exact=True))


def wait_for_message(page: Page, emulator_url: str, to: str, text: str) -> dict[str, Any]:
    """Polls the emulator's control API until a text to `to` arrives; an error alert in the UI
    fails at once, quoting it."""
    alert = page.locator("ha-alert[alert-type=error]")
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            state = client.get(emulator_url + "/_emulator/state").json()
            for sent in state["messages"]:
                if sent["to"] == to:
                    assert sent["text"] == text
                    return dict(sent)
            if alert.count() and alert.first.is_visible():
                pytest.fail(f"the action failed in the UI: {alert.first.inner_text()}")
            page.wait_for_timeout(200)  # a poll interval, bounded by the deadline above
    pytest.fail(f"no text to {to} at the emulator within {DELIVERY_TIMEOUT} s")
