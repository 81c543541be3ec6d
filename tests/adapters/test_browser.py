"""The threshold slider in a real browser: moving it changes the counts without a request."""

import pytest
from django.urls import reverse

from tests.conftest import chromium_page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_updates_counts_when_the_threshold_slider_moves(live_server, owner, trained):
    with chromium_page(live_server, owner) as page:
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
