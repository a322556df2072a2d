"""The whole loop in a real browser: headless Chromium (Debian's package) driven by Playwright.

/sources -> connect -> skip ahead 60 days -> notice -> Reconnect as the wrong account
(refused, the thread says why) -> as the right one (thread confirmation, notice updated) ->
digest, with screenshots saved under the test's temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.demo.server import Running

CHROMIUM = "/usr/bin/chromium"
ACCOUNTS = {"Acme Corp": "acme", "Jordan Lee": "jordan", "Sam Rivera": "sam"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):  # CI installs it: fail there
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def command(page: Page, text: str) -> None:
    await page.fill("#composer-input", text)
    await page.press("#composer-input", "Enter")


async def sign_in(page: Page, button: str, account: str) -> Page:
    """Click an "Open LinkedIn" link button, sign in as ``account``; return the result page."""
    async with page.expect_popup() as popup_info:
        await (
            page.locator("#messages .msg.ephemeral").last.get_by_role("button", name=button).click()
        )
    popup = await popup_info.value
    await expect(popup.get_by_text("Pick who you are signing in as")).to_be_visible()
    await popup.click(f"button.account[value={ACCOUNTS[account]}]")
    await popup.wait_for_load_state()
    return popup


async def click_for_new_link(page: Page, button: Locator) -> None:
    """Click ``button`` and wait for the private reply with its new link."""
    replies = page.locator("#messages .msg.ephemeral")
    before = await replies.count()
    await button.click()
    await expect(replies).to_have_count(before + 1)
    await expect(replies.last).to_contain_text("Open LinkedIn")


def reconnect_button(page: Page, name: str) -> Locator:
    """The Reconnect button of the notice entry whose context line names ``name``."""
    return page.locator(
        "xpath=//*[@id='messages']//div[contains(@class,'bk-context')]"
        f"[contains(., '{name}')]/preceding-sibling::div[contains(@class,'bk-section')][1]"
        "//button[normalize-space()='Reconnect']"
    ).last


async def test_the_whole_loop_in_chromium(demo: Running, browser: Browser, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = await browser.new_page(viewport={"width": 1440, "height": 900})
    await page.goto(demo.demo.url)
    await expect(page.locator("#main-header")).to_contain_text("social-team")

    # /sources: the page the demo starts with
    await command(page, "/sources")
    messages = page.locator("#messages")
    await expect(messages).to_contain_text("LinkedIn · Acme Careers")
    await expect(messages).to_contain_text("Only visible to you")

    # connect Acme Corp, the right account
    await command(page, "/sources connect linkedin")
    await expect(messages).to_contain_text("Connect a LinkedIn account")
    login = await sign_in_screenshot(page, shots / "1-login.png")
    await login.click("button.account[value=acme]")
    await expect(login.locator("body")).to_contain_text("Acme Corp")
    await login.close()
    await page.click("#open-app")
    home = page.locator("#home")
    await expect(home).to_contain_text("All 2 sources are working")
    await page.screenshot(path=str(shots / "2-app-home.png"))
    await page.click(".tab[data-tab=messages]")
    await expect(messages).to_contain_text("LinkedIn · Acme Corp is connected")
    await page.click(".side-item[data-channel=C0SOCIAL]")

    # 60 days later: the expiry notice, at once
    await page.click("#skip")
    await expect(messages).to_contain_text("2 connections need reconnecting")
    await expect(reconnect_button(page, "Acme Corp")).to_be_visible()
    await page.screenshot(path=str(shots / "3-notice.png"))

    # Reconnect as the wrong account: refused, and the thread says why
    await click_for_new_link(page, reconnect_button(page, "Acme Corp"))
    refused = await sign_in(page, "Open LinkedIn", "Jordan Lee")
    await expect(refused.locator("body")).to_contain_text("Jordan Lee")
    await refused.close()
    thread = page.locator("#thread-body")
    await expect(thread).to_contain_text("signed in to LinkedIn as Jordan Lee")
    await expect(thread).to_contain_text("Nothing was changed")
    await page.screenshot(path=str(shots / "4-wrong-account.png"))

    # ... and as the right one: confirmed in the thread, the notice updated
    await click_for_new_link(page, reconnect_button(page, "Acme Corp"))
    restored = await sign_in(page, "Open LinkedIn", "Acme Corp")
    await expect(restored.locator("body")).to_contain_text("reconnected")
    await restored.close()
    await expect(thread).to_contain_text("reconnected by @Alex Kim")
    await expect(messages).to_contain_text("1 connection needs reconnecting")
    await expect(messages).to_contain_text("LinkedIn · Acme Corp reconnected by @Alex Kim")
    await page.screenshot(path=str(shots / "5-reconnected.png"))

    # the digest
    await page.click("#digest")
    await expect(messages).to_contain_text("Sources digest")
    await expect(messages).to_contain_text("Restored since the last digest (1)")
    await page.screenshot(path=str(shots / "6-digest.png"))

    assert not await page.locator(".bk-unsupported").count()
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-login.png",
        "2-app-home.png",
        "3-notice.png",
        "4-wrong-account.png",
        "5-reconnected.png",
        "6-digest.png",
    ]
    print(f"screenshots: {shots}")


async def sign_in_screenshot(page: Page, path: Path) -> Page:
    """Open the connect link and stop at the demo network's login page."""
    async with page.expect_popup() as popup_info:
        await (
            page.locator("#messages .msg.ephemeral")
            .last.get_by_role("button", name="Open LinkedIn")
            .click()
        )
    popup = await popup_info.value
    await expect(popup.get_by_text("Pick who you are signing in as")).to_be_visible()
    await popup.set_viewport_size({"width": 900, "height": 760})
    await popup.screenshot(path=str(path))
    return popup
