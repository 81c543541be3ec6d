"""A real browser (Debian's Chromium) creates a project with uploads and labels images by keyboard."""

import re

import pytest

from adapters.models import Image, ImageLabel
from tests.conftest import chromium_page
from tests.projects.conftest import gif, jpeg


@pytest.fixture
def page(live_server, owner, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM checks are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_page(live_server, owner) as page:
        page.set_default_timeout(15_000)
        yield page


def facet(page, attr, value) -> int:
    return int(page.locator(f'[data-{attr}="{value}"] .count').inner_text())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_uploads_filters_and_labels_several_images_by_keyboard(page):
    page.goto("/projects/new/")
    page.fill("#id_project_name", "browser-policy")
    page.fill("#id_adapter_name", "first")
    files = [{"name": f"img{i}.jpg", "mimeType": "image/jpeg", "buffer": jpeg(i)} for i in range(34)]
    files.append({"name": "anim.gif", "mimeType": "image/gif", "buffer": gif()})
    page.set_input_files("#id_files", files)  # what a drop does: the files land in the input
    page.click("button[type=submit]")
    # 35 files go in two batches (30 + 5); the GIF is refused and named, the rest are kept.
    page.wait_for_selector("[data-upload-done]:not([hidden])")
    assert page.locator("[data-progress-bar]").get_attribute("style") == "width: 100%;"
    assert (
        "anim.gif: failed (the image is not a JPEG or PNG file"
        in page.locator("[data-outcomes]").inner_text()
    )
    assert "34 added, 0 skipped, 1 refused" in page.locator("[data-progress-text]").inner_text()
    assert Image.objects.count() == 34
    page.click("[data-next]")

    page.wait_for_selector("[data-grid]")
    assert facet(page, "state", "unlabeled") == 34
    page.click('[data-state="unlabeled"]')
    page.wait_for_url(re.compile(r"state=unlabeled"))
    assert page.locator(".card").count() == 34
    # Select the first three images with the keyboard and add the first label key's label (1).
    page.keyboard.press("x")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert page.locator("[data-selected-count]").inner_text() == "3 selected"
    page.keyboard.press("1")
    page.wait_for_function(
        "document.querySelector('[data-state=unlabeled] .count').textContent.trim() === '31'"
    )
    assert facet(page, "label", "Explicit") == 3 and facet(page, "state", "labeled") == 3
    assert page.locator(".notice").inner_text() == "3 images labeled. Undo"  # with its Undo button
    # The focused image (nothing selected) marked safe with its key.
    page.keyboard.press("s")
    page.wait_for_function(
        "document.querySelector('[data-state=unlabeled] .count').textContent.trim() === '30'"
    )
    assert facet(page, "state", "safe") == 1
    assert ImageLabel.objects.filter(name="Explicit").count() == 3
    assert Image.objects.filter(label_state="safe").count() == 1
    # Explicit images are blurred until revealed.
    page.click('[data-state=""]')
    page.wait_for_url(re.compile(r"/labels/$"))
    page.click('[data-label="Explicit"]')
    page.wait_for_url(re.compile(r"\?label=Explicit$"))
    assert page.locator("img.blurred").count() == 3
    page.locator("[data-reveal]").first.click()
    assert page.locator("img.blurred").count() == 2
