"""Real Chromium, reviewer protection: the defaults on every grid, a reviewer's own greyscale, and
reveal and re-hide by keyboard and pointer."""

import pytest
from django.urls import reverse

from adapters import datasets
from console.models import Profile
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import chromium_page
from tests.projects.conftest import adapter, add_images  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HIDDEN = "el => getComputedStyle(el).filter"


# The data is made before Playwright starts: its event loop forbids the ORM in this thread.
@pytest.fixture
def world(owner, adapter):  # noqa: F811
    job = finished_job(owner, [{"Violence": 90.0}, {"Alcohol": 90.0}])
    images = add_images(owner, adapter, 2)
    datasets.set_labels(user=owner, images=[images[0]], add=["Explicit"])
    return {
        "bulk": reverse("bulk-detail", args=[job.pk]),
        "verify": reverse("verify-job", args=[job.pk]),
        "queue": reverse("verify-queue", args=[job.pk]),
        "labels": reverse("projects-labels", args=[adapter.project_id, adapter.pk]),
        "training": reverse("adapters-detail", args=[adapter.pk]) + "?tab=training",
    }


def classes(page, selector) -> set[str]:
    return set((page.get_attribute(selector, "class") or "").split())


def test_the_defaults_blur_violence_and_explicit_on_every_grid(world, owner, live_server):
    with chromium_page(live_server, owner) as page:
        page.goto(world["bulk"])
        assert "blurred" in classes(page, ".card[data-line='1'] img")  # predicted Violence
        assert "blurred" not in classes(page, ".card[data-line='2'] img")  # Alcohol: not protected
        assert "blur(" in page.eval_on_selector(".card[data-line='1'] img", HIDDEN)

        page.goto(world["verify"])
        assert "blurred" in classes(page, "#card-1 img")
        assert "blurred" not in classes(page, "#card-2 img")
        page.goto(world["queue"])  # input order: the Violence image first
        assert "blurred" in classes(page, "#card-1 img")

        page.goto(world["labels"])  # labeled Explicit
        assert "blurred" in classes(page, ".card[data-labels='Explicit'] img")
        assert page.locator("#workspace img.blurred").count() == 1

        page.goto(world["training"])
        assert page.locator("#training-images img.blurred").count() == 1
        assert page.get_attribute("#training-images img.blurred", "alt") == "img0.jpg: labeled Explicit"


def test_a_reviewer_who_chose_greyscale_gets_greyscale_only(world, annotator, live_server):
    Profile.objects.filter(user=annotator).update(
        protection_mode="greyscale", protected_categories=["Violence", "Explicit"]
    )
    with chromium_page(live_server, annotator) as page:
        for url, selector in (
            (world["bulk"], ".card[data-line='1'] img"),
            (world["verify"], "#card-1 img"),
            (world["labels"], ".card[data-labels='Explicit'] img"),
            (world["training"], "#training-images img[data-protect]"),
        ):
            page.goto(url)
            assert classes(page, selector) >= {"greyscale"} and "blurred" not in classes(page, selector), url
            style = page.eval_on_selector(selector, HIDDEN)
            assert "grayscale(" in style and "blur(" not in style, url


def test_reveal_and_rehide_by_keyboard_and_pointer(world, owner, live_server):
    with chromium_page(live_server, owner) as page:
        # The adapter tab: Enter on the focused thumbnail reveals it, leaving its row hides it.
        page.goto(world["training"])
        thumb = "#training-images img[data-protect]"
        page.focus(thumb)
        page.keyboard.press("Enter")
        page.wait_for_selector(f"{thumb}:not(.blurred)")
        page.keyboard.press("Shift+Tab")
        page.wait_for_selector(f"{thumb}.blurred")

        # Assign labels: Enter on the card's Reveal button, then the focus leaves the card.
        page.goto(world["labels"])
        card = ".card[data-labels='Explicit']"
        page.focus(f"{card} [data-reveal]")
        page.keyboard.press("Enter")
        page.wait_for_selector(f"{card} img:not(.blurred)")
        assert page.locator("details.picker[open]").count() == 0  # Enter pressed the button only
        page.focus(".card:not([data-labels='Explicit']) [data-select]")
        page.wait_for_selector(f"{card} img.blurred")
        # ... and by pointer: a click reveals without selecting, leaving the card hides again.
        page.click(f"{card} img")
        page.wait_for_selector(f"{card} img:not(.blurred)")
        assert not page.is_checked(f"{card} [data-select]")
        page.mouse.move(0, 0)
        page.wait_for_selector(f"{card} img.blurred")
