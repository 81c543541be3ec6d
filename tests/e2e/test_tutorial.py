"""The whole Custom Moderation adapter tutorial, in Debian's Chromium, as a new user walks it.

Local backend, a real Celery worker process, the live server: sign in; create a project with
uploaded images; label them; train; watch TRAINING_COMPLETED arrive; move the threshold slider;
copy the Use adapter snippet; run a bulk analysis; verify its predictions with the keyboard;
train an adapter from them; create a second adapter; delete the adapters, then the project.
A screenshot of every page goes to test-artifacts/e2e/.
"""

import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from adapters import performance
from adapters.models import Adapter, Image
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.models import Profile
from projects.models import Project
from tests.conftest import ROOT, WorkerProcess, chromium_page, make_user
from tests.engine.imagegen import LABEL, TEST_PHOTOS, TRAIN_PHOTOS, symbol_set
from verification.models import ImageReview

ARTIFACTS = ROOT / "test-artifacts" / "e2e"
TRAINING_TIMEOUT = 180_000  # ms: a few seconds of training, plus the page's 2 s polling

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class Walk:
    """The browser page, with a numbered screenshot of each step."""

    def __init__(self, page, artifacts: Path):
        self.page, self.artifacts, self.n = page, artifacts, 0

    def shot(self, name: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(self.artifacts / f"{self.n:02d}-{name}.png"), full_page=True)


@pytest.fixture
def walk(live_server, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    with chromium_page(live_server, viewport={"width": 1280, "height": 900}) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        page.set_default_timeout(30_000)
        yield Walk(page, ARTIFACTS)


@pytest.fixture
def worker(tmp_path):
    """A real Celery worker process on the test database and broker."""
    process = WorkerProcess(log_path=tmp_path / "worker.log")
    yield process
    try:
        process.stop()
    except subprocess.TimeoutExpired:  # a warm shutdown that hangs: end it as a crash would
        process.kill()


def files(items, prefix):
    return [
        {"name": f"{prefix}{i:02d}.jpg", "mimeType": "image/jpeg", "buffer": data}
        for i, (data, _) in enumerate(items)
    ]


def count(page, selector) -> int:
    return int(page.locator(selector).inner_text().strip())


def wait_for_training(walk, name):
    page = walk.page
    page.wait_for_selector("#adapter-status .progress")  # in progress: the page polls itself
    walk.shot(f"{name}-training")
    page.wait_for_selector("#threshold-slider[data-ready]", timeout=TRAINING_TIMEOUT)  # its script is on
    assert "Training completed" in page.locator("#adapter-status").inner_text()


def test_it_walks_the_whole_tutorial(walk, django_user_model, worker):
    page = walk.page
    make_user(django_user_model, "newcomer", Profile.Role.MANAGER)
    # Two visually distinct families: photo crops with the drawn symbol (Hate Symbols), and without.
    dataset = symbol_set(TRAIN_PHOTOS, 36, seed=11)
    dataset.sort(key=lambda item: not item[1])  # the 18 symbol images first
    to_analyse = symbol_set(TEST_PHOTOS, 16, seed=12)

    # Sign in through the form.
    page.goto("/")
    page.wait_for_url(re.compile(r"/login/"))
    walk.shot("sign-in")
    page.get_by_label("User name").fill("newcomer")
    page.get_by_label("Password").fill("pw-newcomer")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:has-text('Custom Moderation')")
    walk.shot("custom-moderation")

    # Create project: names, 36 images from the computer (sent 30 at a time), autosplit.
    page.get_by_role("link", name="Create project").first.click()
    page.fill("#id_project_name", "tutorial-policy")
    page.fill("#id_adapter_name", "first")
    page.fill("#id_adapter_description", "Our symbol policy")
    page.set_input_files("#id_files", files(dataset, "train"))
    walk.shot("create-project")
    page.get_by_role("button", name="Create project").click()

    # Assign labels: the 18 symbol images by keyboard selection and the toolbar, the rest safe.
    page.wait_for_url(re.compile(r"/labels/"))
    page.wait_for_selector("[data-grid]")
    project = Project.objects.get(name="tutorial-policy")
    first = project.adapters.get(name="first")
    assert first.images.count() == 36
    assert count(page, '[data-state="unlabeled"] .count') == 36
    walk.shot("assign-labels")
    page.keyboard.press("x")
    for _ in range(17):
        page.keyboard.press("Shift+ArrowRight")
    assert page.locator("[data-selected-count]").inner_text() == "18 selected"
    page.select_option("#bulk-form select[name=label]", LABEL)
    page.click("#bulk-form button[value=add]")
    page.wait_for_function(
        "document.querySelector('[data-state=unlabeled] .count').textContent.trim() === '18'"
    )
    page.click('[data-state="unlabeled"]')
    page.wait_for_url(re.compile(r"state=unlabeled"))
    page.keyboard.press("a")  # every image on the page
    page.keyboard.press("s")  # no moderation label
    page.wait_for_function(
        "document.querySelector('[data-state=unlabeled] .count').textContent.trim() === '0'"
    )
    assert count(page, '[data-label="Hate Symbols"] .count') == 18
    assert count(page, '[data-state="safe"] .count') == 18
    labeled = {i.original_name: i.label_names for i in first.images.prefetch_related("labels")}
    assert all(labeled[f"train{i:02d}.jpg"] == ([LABEL] if i < 18 else []) for i in range(36))
    page.reload()
    walk.shot("labeled")

    # Start training: tags, Train adapter; the adapter page follows the training by itself.
    page.get_by_role("link", name="Start training").click()
    page.wait_for_url(re.compile(r"/train/"))
    page.locator("input[name=tag_key]").first.fill("team")
    page.locator("input[name=tag_value]").first.fill("trust-and-safety")
    walk.shot("train-adapter")
    page.get_by_role("button", name="Train adapter").click()
    page.wait_for_url(re.compile(rf"/adapters/{first.pk}/$"))
    wait_for_training(walk, "first")
    first.refresh_from_db()
    assert first.status == Adapter.Status.TRAINING_COMPLETED and first.tags == {"team": "trust-and-safety"}
    walk.shot("adapter-performance")

    # The threshold slider: the counts follow it, as the stored evaluation says.
    table = performance.counts_by_threshold(first.evaluation)
    seen = {}
    for index in (0, len(table) - 1):
        page.eval_on_selector(
            "#threshold-slider", "(el, i) => { el.value = i; el.dispatchEvent(new Event('input')); }", index
        )
        threshold = float(page.locator("#threshold-value").inner_text())
        expected = performance.summary(table[threshold][performance.ALL])
        seen[threshold] = (count(page, "[data-metric=flagged]"), count(page, "[data-metric=unflagged]"))
        assert seen[threshold] == (expected["flagged"], expected["unflagged"])
    low, high = min(seen), max(seen)
    assert low < high and seen[low][0] >= seen[high][0]
    assert sum(seen[low]) == sum(seen[high])  # every test image is counted at both ends
    walk.shot("threshold-moved")

    # Use adapter: copy the Python snippet, read it back from the clipboard.
    page.get_by_role("tab", name="Use adapter").click()
    page.wait_for_selector("#python-snippet")
    page.click("button[data-copy=python-snippet]")
    page.wait_for_selector("button[data-copy=python-snippet]:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == page.locator("#python-snippet").inner_text().strip()
    assert first.remote_arn in copied and "detect_moderation_labels" in copied
    walk.shot("use-adapter")

    # Deleting the project is refused while it has adapters.
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Delete project").click()  # its confirmation page says why not
    page.wait_for_selector("#delete-project .error")
    assert "delete" in page.locator("#delete-project .error").inner_text().lower()
    assert page.locator("#delete-project button.danger").is_disabled()
    assert Project.objects.filter(pk=project.pk).exists()
    walk.shot("project-delete-refused")

    # Bulk analysis with the base model: 16 images from the computer, Start analysis.
    page.goto("/bulk-analysis/")
    walk.shot("bulk-analysis")
    page.get_by_role("link", name="Start bulk analysis").click()
    page.fill("#id_name", "tutorial-batch")
    page.set_input_files("#id_images", files(to_analyse, "batch"))
    walk.shot("start-bulk-analysis")
    page.get_by_role("button", name="Create job and add images").click()
    page.wait_for_selector("#estimate")
    job = BulkAnalysisJob.objects.get(name="tutorial-batch")
    assert job.predictions.count() == 16 and job.adapter is None
    walk.shot("bulk-job-created")
    page.get_by_role("button", name="Start analysis").click()
    page.get_by_role("link", name="Verify predictions").wait_for(timeout=TRAINING_TIMEOUT)
    page.wait_for_load_state("load")  # the results page's script is on
    job.refresh_from_db()
    assert job.status == BulkAnalysisJob.Status.SUCCEEDED
    assert job.predictions.filter(state=Prediction.State.DONE).count() == 16
    walk.shot("bulk-job-succeeded")
    total = count(page, "[data-metric=flagged]") + count(page, "[data-metric=unflagged]")
    assert total == 16
    page.eval_on_selector(
        "#threshold-slider", "el => { el.value = 100; el.dispatchEvent(new Event('input')); }"
    )
    assert page.locator("#threshold-value").inner_text() == "100"
    assert count(page, "[data-metric=flagged]") == job.predictions.filter(max_confidence__gte=100).count()

    # Verify predictions by keyboard: symbol images get Hate Symbols (added when missed), every
    # other predicted label is marked incorrect, clean images are confirmed with C.
    page.get_by_role("link", name="Verify predictions").click()
    page.wait_for_selector(".verify-card.focused")
    walk.shot("verify-predictions")
    for line in range(1, 17):
        positive = bool(to_analyse[line - 1][1])
        card = page.locator(f"#card-{line}")
        assert "focused" in (card.get_attribute("class") or "")
        while True:
            pending = card.locator("li[data-predicted='1'][data-verdict='']")
            if not pending.count():
                break
            name = pending.first.get_attribute("data-label")
            page.keyboard.press("c" if positive and name == LABEL else "x")
            page.wait_for_selector(f"#card-{line} li[data-label='{name}']:not([data-verdict=''])")
        if positive and not card.locator(f"li[data-label='{LABEL}']").count():
            page.keyboard.press("a")
            page.select_option(f"#assign-{line}", LABEL)
            page.click(f"#card-{line} [data-action=add]")
            page.wait_for_selector(f"#card-{line} li[data-label='{LABEL}'][data-verdict='added']")
        elif card.get_attribute("data-reviewed") != "1":
            page.keyboard.press("c")  # nothing missing
        page.wait_for_selector(f"#card-{line}[data-reviewed='1']")
        page.keyboard.press("j")
    assert ImageReview.objects.filter(prediction__job=job).count() == 16
    # The statistics panel refreshes itself after each verdict.
    page.wait_for_selector("#performance:has-text('16 of 16 images verified') #train-ready")
    walk.shot("verified")

    # Train an adapter from the verified predictions, into the tutorial's project.
    page.get_by_role("link", name="Train an adapter").click()
    page.wait_for_url(re.compile(r"/verify/\d+/train/"))
    page.check("input[name=project_choice][value=existing]")
    page.select_option("#id_project", label="tutorial-policy")
    page.fill("#id_adapter_name", "verified")
    walk.shot("train-from-verification")
    page.get_by_role("button", name="Train adapter").click()
    page.wait_for_url(re.compile(r"/adapters/\d+/$"))
    wait_for_training(walk, "verified")
    verified = project.adapters.get(name="verified")
    assert verified.status == Adapter.Status.TRAINING_COMPLETED
    assert verified.images.count() == 16
    assert verified.images.filter(label_state=Image.LabelState.LABELED).count() == 8
    walk.shot("verified-adapter")

    # A second adapter in the same project, from the project page.
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Create adapter").click()
    page.wait_for_url(re.compile(r"/projects/new/\?project="))
    assert page.locator("input[name=project_mode][value=existing]").is_checked()
    page.fill("#id_adapter_name", "second")
    page.set_input_files("#id_files", files(dataset[:4], "more"))
    walk.shot("create-second-adapter")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r"/labels/"))
    assert project.adapters.count() == 3
    page.goto(f"/projects/{project.pk}/")
    walk.shot("project-with-three-adapters")

    # Delete each adapter, then the project.
    for adapter in project.adapters.order_by("pk"):
        page.goto(f"/adapters/{adapter.pk}/")
        page.get_by_role("link", name="Delete adapter").click()
        walk.shot(f"delete-{adapter.name}")
        page.get_by_role("button", name="Delete adapter").click()
        page.wait_for_url(re.compile(rf"/projects/{project.pk}/$"))
    assert not Adapter.objects.filter(project=project).exists()
    assert "This project has no adapters." in page.content()
    page.get_by_role("link", name="Delete project").click()
    page.wait_for_selector("#delete-project")
    page.get_by_role("button", name="Delete project").click()
    page.wait_for_url(re.compile(r"/$"))
    assert not Project.objects.filter(pk=project.pk).exists()
    assert "No projects yet" in page.content()
    walk.shot("project-deleted")
    assert settings.MODERATION_BACKEND == "local"
