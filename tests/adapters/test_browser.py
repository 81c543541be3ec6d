"""The threshold slider in a real browser: moving it changes the counts without a request."""

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from playwright.sync_api import sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_updates_counts_when_the_threshold_slider_moves(live_server, client, owner, trained):
    client.force_login(owner)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            page = context.new_page()
            requests = []
            page.goto(live_server.url + reverse("adapters-detail", args=[trained.pk]) + "?tab=labels")
            page.on("request", lambda r: requests.append(r.url))
            flagged = page.locator('#threshold-panel [data-metric="flagged"]')
            fn = page.locator('td[data-label="Alcohol"][data-metric="fn"]')
            assert page.locator("#threshold-value").inner_text() == "50"
            assert flagged.inner_text() == "5" and fn.inner_text() == "1"
            slider = page.locator("#threshold-slider")
            slider.fill("17")  # thresholds 5..100: index 17 is 90
            assert page.locator("#threshold-value").inner_text() == "90"
            assert flagged.inner_text() == "2"  # adapter Alcohol 95 and 90
            assert fn.inner_text() == "3"
            assert page.locator('#threshold-panel [data-metric="base_fn"]').inner_text() == "5"
            slider.fill("0")
            assert page.locator("#threshold-value").inner_text() == "5"
            assert flagged.inner_text() == "9" and fn.inner_text() == "0"
            assert requests == []  # computed in the browser
            # The chosen threshold travels with the tab links.
            assert "threshold=5" in page.locator('.tabs a:has-text("Test images")').get_attribute("href")
        finally:
            browser.close()
