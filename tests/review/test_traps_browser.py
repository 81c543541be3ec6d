"""Real Chromium, issue 14's traps: each test failed before its fix."""

import pytest

from tests.bulk_analysis.conftest import finished_job
from tests.conftest import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, owner):
    with chromium_page(live_server, owner) as page:
        yield page


def slide(page, value):
    page.eval_on_selector(
        "#threshold-slider",
        f"el => {{ el.value = {value}; el.dispatchEvent(new Event('input'));"
        " el.dispatchEvent(new Event('change')); }",
    )


@pytest.fixture
def chips_job(owner):
    return finished_job(owner, [{"Alcohol": 88.6}, {"Alcohol": 60.0}, {}], min_confidence=50)


# The jobs are made before Playwright starts: its event loop forbids the ORM in this thread.
def test_bulk_cards_and_tabs_follow_the_slider(chips_job, page, live_server):
    page.goto(f"{live_server.url}/bulk-analysis/{chips_job.pk}/?threshold=70")
    card2 = page.locator("#prediction-grid .card[data-line='2']")
    # below the threshold: the chip is hidden, "No label" shows instead
    assert not card2.locator("[data-conf]").is_visible()
    assert card2.locator("[data-safe]").is_visible()
    card1 = page.locator("#prediction-grid .card[data-line='1']")
    assert card1.locator("[data-conf]").is_visible() and not card1.locator("[data-safe]").is_visible()
    slide(page, 55)
    assert card2.locator("[data-conf]").is_visible() and not card2.locator("[data-safe]").is_visible()

    # the Flagged tab at the slider's threshold, and it follows the slider
    page.click("nav.tabs >> text=Flagged")
    page.wait_for_url("**flag=flagged**")
    assert page.locator("#prediction-grid .card").count() == 2
    slide(page, 70)
    page.wait_for_url("**threshold=70**")
    page.wait_for_function("document.querySelectorAll('#prediction-grid .card').length === 1")
    page.click("nav.tabs >> text=Unflagged")
    page.wait_for_url("**flag=unflagged**")
    assert page.locator("#prediction-grid .card").count() == 2
