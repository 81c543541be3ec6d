"""A real browser (Debian's Chromium) accepts pre-labeling's suggestions above a confidence, and
undoes it, on the Assign labels grid."""

import pytest

from adapters.models import Image
from tests.conftest import chromium_page
from tests.quality.test_prelabel import grid, suggest, unlabeled


@pytest.fixture
def page(live_server, owner, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM checks are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_page(live_server, owner) as page:
        page.set_default_timeout(15_000)
        yield page


def matching(page) -> str:
    return page.locator("text=/\\d+ images? match/").inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_accepts_the_suggestions_above_a_confidence_and_undoes_it(page, adapter):
    sure, unsure, middle = unlabeled(adapter, 3)
    suggest(adapter, [sure, unsure, middle], [95.0, 60.0, 80.0])

    page.goto(grid(adapter, "state=suggested"))
    page.wait_for_selector("[data-grid]")
    # Suggestions to review, most uncertain first, drawn apart from labels.
    ids = [int(i) for i in page.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.id)")]
    assert ids == [unsure.pk, middle.pk, sure.pk]
    assert page.locator(".chip.suggested").count() == 3 and matching(page) == "3 images match the filter."

    field = page.locator("#accept-suggestions input[name=min_confidence]")
    field.click()
    field.press("Control+a")
    field.press_sequentially("75")  # the grid's number keys add labels, but not while typing here
    assert not Image.objects.exclude(label_state=Image.LabelState.UNLABELED).exists()
    page.click("#accept-suggestions-go")
    page.wait_for_selector("#label-notice:has-text('2 suggestions accepted as labels.')")
    assert (
        matching(page) == "1 image matches the filter." and page.locator(".card").count() == 1
    )  # the rest stay for people
    assert set(Image.objects.filter(label_state=Image.LabelState.LABELED).values_list("pk", flat=True)) == {
        sure.pk,
        middle.pk,
    }

    page.click("#undo-labels")
    page.wait_for_selector("#label-notice:has-text('Undone: 2 images restored.')")
    assert matching(page) == "3 images match the filter." and page.locator(".chip.suggested").count() == 3
    assert not Image.objects.exclude(label_state=Image.LabelState.UNLABELED).exists()
