"""Real Chromium, two reviewers in two browsers working one job's review queue: each is handed an
image the other does not hold, Submit and next moves on, the job shows who reviewed how many."""

from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import Client

from tests.bulk_analysis.conftest import finished_job
from tests.conftest import CHROMIUM_ARGS, chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue_job(owner, annotator):
    return finished_job(owner, [{"Alcohol": 80.0}, {"Alcohol": 65.0}, {}])


@contextmanager
def two_reviewers(live_server, *users):
    """One Chromium, a browser context (own cookies) per user; the sessions made before Playwright."""
    from playwright.sync_api import sync_playwright

    sessions = []
    for user in users:
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            pages = []
            for value in sessions:
                context = browser.new_context(base_url=live_server.url)
                context.add_cookies(
                    [{"name": settings.SESSION_COOKIE_NAME, "value": value, "url": live_server.url}]
                )
                pages.append(context.new_page())
            yield pages
        finally:
            browser.close()


def held(page):
    return page.get_attribute("#submit-next input[name=line]", "value")


def test_two_reviewers_never_get_the_same_image(queue_job, live_server, owner, annotator):
    with two_reviewers(live_server, owner, annotator) as (a, b):
        a.goto(f"{live_server.url}/verify/{queue_job.pk}/")
        a.click("#start-reviewing")
        a.wait_for_selector("#submit-next")
        b.goto(f"{live_server.url}/verify/{queue_job.pk}/queue/")
        b.wait_for_selector("#submit-next")
        assert (held(a), held(b)) == ("1", "2")

        a.click("#card-1 [data-action=correct]")
        a.wait_for_selector("#card-1 [data-action=correct][aria-pressed=true]")
        a.click("#submit-and-next")
        a.wait_for_selector("#card-3")
        assert held(a) == "3"  # 2 is held by the other reviewer

        b.click("#submit-and-next")
        b.wait_for_selector("#queue-empty")  # 1 reviewed, 3 held by the first reviewer
        assert b.inner_text("#queue-progress [data-remaining]") == "1"
        assert b.inner_text("#queue-progress tr[data-reviewer=owner] [data-reviewed]") == "1"
        assert b.inner_text("#queue-progress tr[data-reviewer=annotator] [data-reviewed]") == "1"

        a.click("#submit-and-next")
        a.wait_for_selector("#queue-empty")
        assert a.inner_text("#queue-progress [data-remaining]") == "0"


def test_the_queue_orders(queue_job, live_server, owner):
    with chromium_page(live_server, owner) as page:
        page.goto(f"{live_server.url}/verify/{queue_job.pk}/queue/?order=least-sure&threshold=60")
        page.wait_for_selector("#submit-next")
        assert held(page) == "2"  # 65 is nearest the threshold
        page.goto(f"{live_server.url}/verify/{queue_job.pk}/queue/?order=flagged&threshold=70")
        assert held(page) == "1"  # its own claim released, 80 is the only one flagged at 70
