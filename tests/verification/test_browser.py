"""Real Chromium: verify predictions with the keyboard and watch the per-label numbers change;
the bulk job's threshold slider recomputes the counts in the browser."""

import pytest

from tests.bulk_analysis.conftest import finished_job
from tests.conftest import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, owner):
    with chromium_page(live_server, owner) as page:
        yield page


def cell(page, label, stat):
    return page.locator(f"#per-label tr[data-label='{label}'] td[data-stat='{stat}']").inner_text()


@pytest.fixture
def keyboard_job(owner):
    return finished_job(owner, [{"Alcohol": 80.0}, {"Alcohol": 65.0}, {}, {"Violence": 70.0}])


TOPS = [{"Alcohol": 50.0 + (i % 50)} if i % 3 else {} for i in range(60)]


@pytest.fixture
def slider_job(owner):
    return finished_job(owner, TOPS, min_confidence=50)


# The jobs are made before Playwright starts: its event loop forbids the ORM in this thread.
def test_it_verifies_predictions_with_the_keyboard(keyboard_job, page, live_server):
    job = keyboard_job
    page.goto(f"{live_server.url}/verify/{job.pk}/")
    page.wait_for_selector(".verify-card.focused")
    assert cell(page, "Alcohol", "tp") == "0"

    page.keyboard.press("c")  # image 1: Alcohol correct
    page.wait_for_function(
        "document.querySelector(\"#per-label tr[data-label='Alcohol'] td[data-stat='tp']\").innerText === '1'"
    )
    assert "true positive" in page.locator("#card-1").inner_text()

    page.keyboard.press("j")
    page.keyboard.press("x")  # image 2: Alcohol incorrect
    page.wait_for_function(
        "document.querySelector(\"#per-label tr[data-label='Alcohol'] td[data-stat='fp']\").innerText === '1'"
    )
    assert "false positive" in page.locator("#card-2").inner_text()

    page.keyboard.press("j")
    page.keyboard.press("a")  # image 3: assign a missed label
    page.select_option("#assign-3", "Gambling")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector(\"#per-label tr[data-label='Gambling'] td[data-stat='fn']\").innerText === '1'"
    )
    assert "false negative" in page.locator("#card-3").inner_text()
    assert cell(page, "Alcohol", "tn") == "1"

    page.keyboard.press("u")  # undo the added label
    page.wait_for_function(
        "document.querySelector(\"#per-label tr[data-label='Gambling'] td[data-stat='fn']\").innerText === '0'"
    )
    assert "false negative" not in page.locator("#card-3").inner_text()
    assert cell(page, "Alcohol", "tp") == "1" and cell(page, "Alcohol", "fp") == "1"


def test_the_threshold_slider_recomputes_counts_at_once(slider_job, page, live_server):
    job, tops = slider_job, TOPS
    page.goto(f"{live_server.url}/bulk-analysis/{job.pk}/")
    flagged = page.locator("[data-metric=flagged]")
    assert flagged.inner_text() == "40"

    page.eval_on_selector(
        "#threshold-slider", "el => { el.value = 90; el.dispatchEvent(new Event('input')); }"
    )
    assert flagged.inner_text() == str(sum(1 for t in tops if t and t["Alcohol"] >= 90))
    assert page.locator("[data-metric=unflagged]").inner_text() == str(60 - int(flagged.inner_text()))
    page.eval_on_selector(
        "#threshold-slider", "el => { el.value = 10; el.dispatchEvent(new Event('input')); }"
    )
    assert page.locator("#threshold-value").inner_text() == "50"  # never below the job's minimum

    # 10,000 images, every label on some, binned as the page sends them (bulk_analysis.histograms):
    # setting up and recounting stays well under 50 ms, and the counts are the images'.
    ms = page.evaluate(
        """() => {
        const n = 10000, values = [], bins = () => new Array(1001).fill(0);
        const max = bins(), conf = Array.from({length: 10}, bins);
        const add = (counts, c) => { counts[Math.floor(c * 10 + 1e-6)] += 1; };  // as histograms.bin_of
        for (let i = 0; i < n; i++) {
          const c = ((i * 7919) % 1000) / 10; values.push(c);
          if (c > 0) add(max, c);
          add(conf[i % 10], c);
        }
        const t0 = performance.now();
        const countsAt = window.bulkMakeCounter({min: 0, done: n, max: max, labels: [], conf: conf});
        for (let t = 0; t <= 100; t += 10) countsAt(t);
        const result = countsAt(50);
        const ms = (performance.now() - t0) / 12;
        const flagged = values.filter((c) => c >= 50 && c > 0).length;
        const label3 = values.filter((c, i) => i % 10 === 3 && c >= 50).length;
        if (result.flagged !== flagged || result.flagged + result.unflagged !== n || result.labels[3] !== label3)
          throw new Error("bad counts " + JSON.stringify(result));
        if (countsAt(49.9).flagged !== values.filter((c) => c >= 49.9 && c > 0).length) throw new Error("bad 49.9");
        return ms; }"""
    )
    assert ms < 50, ms
    assert float(page.locator("#results").get_attribute("data-recompute-ms")) < 50
