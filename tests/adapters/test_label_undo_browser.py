"""Real Chromium, Assign labels: an action on more than one page asks first and says how many
images change, every action can be undone, and the number keys follow the taxonomy's order."""

import json

import pytest

from moderation import taxonomy
from tests.adapters.conftest import add_dataset
from tests.conftest import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def big(adapter):
    from adapters.models import DatasetCount

    add_dataset(adapter, 30, 22)  # 52 images: more than the 48 of a page
    DatasetCount.objects.recount(adapter)  # add_image writes rows, not the counters
    return adapter


def alcohol(page):
    return page.inner_text("ul[data-facet=label] a[data-label='Alcohol'] .count")


def test_safe_on_all_matching_asks_then_undoes(big, live_server, owner):
    keys = json.dumps(list(taxonomy.TOP_LEVEL[:9]))
    with chromium_page(live_server, owner) as page:
        page.goto(f"{live_server.url}/projects/{big.project_id}/adapters/{big.pk}/labels/")
        assert alcohol(page) == "30"
        assert json.loads(page.inner_text("#most-used-labels")) == json.loads(keys)
        page.check("[data-all-matching]")
        page.click("#bulk-form button[value=safe]")
        page.wait_for_selector("#confirm-labels")
        assert "This changes 52 images" in page.inner_text("#confirm-labels")
        assert alcohol(page) == "30"  # nothing changed yet
        page.click("#confirm-labels-yes")
        page.wait_for_selector("#label-notice:has-text('52 images marked safe')")
        assert alcohol(page) == "0"
        # the number keys did not move after a labeling action
        assert json.loads(page.inner_text("#most-used-labels")) == json.loads(keys)
        page.click("#undo-labels")
        page.wait_for_selector("#label-notice:has-text('Undone: 52 images restored')")
        assert alcohol(page) == "30"
        assert page.locator("#undo-labels").count() == 0  # an undo is not itself undone twice


def test_one_image_is_undone_too(big, live_server, owner):
    with chromium_page(live_server, owner) as page:
        page.goto(f"{live_server.url}/projects/{big.project_id}/adapters/{big.pk}/labels/?label=Alcohol")
        page.locator(".card [data-select]").first.check()
        page.click("#bulk-form button[value=safe]")
        page.wait_for_selector("#label-notice:has-text('1 image marked safe')")
        assert alcohol(page) == "29"
        page.click("#undo-labels")
        page.wait_for_selector("#label-notice:has-text('Undone: 1 image restored')")
        assert alcohol(page) == "30"
