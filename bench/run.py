"""`make bench`: one table of the console's performance targets, each measured here, in this run.

Standalone: a fresh DATA_DIR (temporary), a migrated SQLite database, files on local disk, the
filesystem broker and a real Celery worker process, the local engine. Writes bench/RESULTS.md.

Run: .venv/bin/python bench/run.py
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(tempfile.mkdtemp(prefix="console-bench-"))
os.environ["DATA_DIR"] = str(DATA_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# The embedded default: SQLite in DATA_DIR. With DATABASE_URL set, the page bench (bench/pages.py)
# runs on that PostgreSQL server instead, in scratch databases of its own.
PAGES_DATABASE_URL = os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("LOG_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

# BENCH_QUICK=1 runs every step on a few images, to check the bench itself (figures meaningless).
QUICK = os.environ.get("BENCH_QUICK") == "1"
BULK_IMAGES = 40 if QUICK else 1_000
SLIDER_IMAGES = 500 if QUICK else 10_000
TRAIN_IMAGES = BULK_IMAGES
MANIFEST_LINES = 100 if QUICK else 10_000
REQUESTS = 7  # timed requests per page (after one warm-up); the median is reported


@dataclass
class Row:
    name: str
    figure: str
    target: str
    ok: bool
    note: str = ""


rows: list[Row] = []


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_status(model, pk, final, timeout=1800.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = model.objects.filter(pk=pk).values_list("status", flat=True).first()
        if status in final:
            return status
        time.sleep(interval)
    raise TimeoutError(f"{model.__name__} {pk} did not reach {final} in {timeout:.0f} s")


# ---------------------------------------------------------------- bulk analysis vs the bare engine


def bench_bulk(user, worker_box) -> list[tuple[bytes, list[str]]]:
    from bench import data
    from bulk_analysis import services as bulk
    from bulk_analysis.models import BulkAnalysisJob, Prediction
    from moderation.engine import Engine
    from tests.conftest import WorkerProcess

    say(f"generating {BULK_IMAGES} photo crops")
    items = data.photos(BULK_IMAGES, seed=1)
    images = [blob for blob, _ in items]

    say("bare engine: Engine.analyze on every image, one process")
    engine = Engine(
        threads=settings.LOCAL_ENGINE_THREADS,
        model_dir=DATA_DIR / "models",
        version=settings.LOCAL_MODEL_VERSION,
        detector=settings.LOCAL_ENGINE_NUDENET,
        int8=settings.LOCAL_ENGINE_INT8,
    )
    engine.load()
    engine.analyze(data.photos(1, seed=99)[0][0])  # warm-up on another image
    started = time.perf_counter()
    for blob in images:
        engine.analyze(blob)
    engine_seconds = time.perf_counter() - started
    del engine

    say("console: a bulk analysis job of the same images, real worker, broker, database, storage")
    worker = WorkerProcess(concurrency=1, log_path=DATA_DIR / "worker.log")
    worker_box.append(worker)
    warm = bulk.create_job(user=user, name="warm-up")
    bulk.add_files(job=warm, files=[("warm.jpg", data.photos(1, seed=98)[0][0])])
    bulk.start_job(user=user, job=warm)  # loads the worker's networks before the clock starts
    wait_status(BulkAnalysisJob, warm.pk, {"SUCCEEDED", "FAILED"}, timeout=300)

    job = bulk.create_job(user=user, name="bench-1000", min_confidence=50.0)
    for start in range(0, BULK_IMAGES, bulk.UPLOAD_BATCH):  # as the start page sends them
        batch = images[start : start + bulk.UPLOAD_BATCH]
        bulk.add_files(job=job, files=[(f"img{start + i}.jpg", b) for i, b in enumerate(batch)])
    started = time.perf_counter()
    bulk.start_job(user=user, job=job)
    status = wait_status(BulkAnalysisJob, job.pk, {"SUCCEEDED", "FAILED"})
    console_seconds = time.perf_counter() - started
    done = job.predictions.filter(state=Prediction.State.DONE).count()
    assert status == "SUCCEEDED" and done == BULK_IMAGES, (status, done)
    analysed = sum(job.predictions.values_list("seconds", flat=True))
    ratio = engine_seconds / console_seconds
    rows.append(
        Row(
            f"Bulk analysis, {BULK_IMAGES:,} images: console vs bare engine (throughput ratio)",
            f"{ratio:.2f} ({BULK_IMAGES / console_seconds:.1f} vs {BULK_IMAGES / engine_seconds:.1f} images/s)",
            "≥ 0.90",
            ratio >= 0.9,
            f"console {console_seconds:.1f} s from Start to SUCCEEDED (1 worker process, "
            f"{settings.LOCAL_ENGINE_THREADS} engine threads; {analysed:.1f} s within units, per the images' own times); "
            f"engine {engine_seconds:.1f} s ({settings.LOCAL_ENGINE_THREADS} threads)",
        )
    )
    say(rows[-1].figure)
    return items


# ---------------------------------------------------------------- adapter training


def bench_training(user, items) -> None:
    from adapters import datasets
    from adapters import services as adapter_services
    from adapters.models import Adapter
    from bench import data
    from console.models import ImageEmbedding
    from projects import services as projects

    items = items[:TRAIN_IMAGES]
    project = projects.create_project(user=user, name="bench-training")
    adapter = adapter_services.create_adapter(user=user, project=project, name="thousand")
    files = [(f"img{i}.jpg", blob) for i, (blob, _) in enumerate(items)]
    added = []
    for start in range(0, len(files), 100):
        added += datasets.import_files(user=user, adapter=adapter, files=files[start : start + 100]).added
    by_name = {image.original_name: image for image in added}
    positive = [by_name[f"img{i}.jpg"] for i, (_, labels) in enumerate(items) if labels]
    negative = [by_name[f"img{i}.jpg"] for i, (_, labels) in enumerate(items) if not labels]
    datasets.set_labels(user=user, images=positive, add=[data.LABEL])
    datasets.set_labels(user=user, images=negative, safe=True)
    cached = ImageEmbedding.objects.count()
    say(f"training an adapter on {len(added)} labeled images ({cached} embeddings cached)")
    started = time.perf_counter()
    adapter_services.start_training(user=user, adapter=adapter, confidence_threshold=50.0)
    status = wait_status(Adapter, adapter.pk, {"TRAINING_COMPLETED", "TRAINING_FAILED"}, timeout=600)
    seconds = time.perf_counter() - started
    adapter.refresh_from_db()
    assert status == "TRAINING_COMPLETED", adapter.status_message
    rows.append(
        Row(
            f"Adapter training, {len(added):,} labeled images with their embeddings stored",
            f"{seconds:.1f} s",
            "< 10 s",
            seconds < 10,
            f"Train adapter to TRAINING_COMPLETED through the worker; {adapter.training_seconds:.1f} s "
            f"in the backend (autosplit 80/20, F1 {adapter.f1_score:.2f})",
        )
    )
    say(rows[-1].figure)


# ---------------------------------------------------------------- manifest import


def bench_manifest(user) -> None:
    from adapters import datasets
    from adapters.services import create_adapter
    from bench import data
    from console.lib import storage
    from moderation import manifests
    from projects import services as projects

    say(f"storing {MANIFEST_LINES:,} images for the manifest")
    lines = []
    for i, blob in enumerate(data.small_jpegs(MANIFEST_LINES)):
        name = storage.save(f"manifest-source/img{i}.jpg", blob)
        lines.append((storage.uri_for(name), [data.LABEL] if i % 2 else []))
    body = manifests.write_groundtruth(lines).encode()
    project = projects.create_project(user=user, name="bench-manifest")
    adapter = create_adapter(user=user, project=project, name="imported")
    say("importing the manifest")
    started = time.perf_counter()
    report = datasets.import_manifest(user=user, adapter=adapter, data=body, name="bench.manifest")
    seconds = time.perf_counter() - started
    assert len(report.added) == MANIFEST_LINES, (len(report.added), report.skipped[:3], report.failed[:3])
    rows.append(
        Row(
            f"Import of a {MANIFEST_LINES:,}-line manifest (images in storage)",
            f"{seconds:.1f} s",
            "< 60 s",
            seconds < 60,
            "adapters.datasets.import_manifest: read, check, thumbnail and store each image, labels applied",
        )
    )
    say(rows[-1].figure)


# ---------------------------------------------------------------- page server times


def bench_pages() -> str:
    """Every page of the URL configuration at BENCH_SMALL and BENCH_LARGE images (bench/pages.py):
    one row here for the whole walk, the per-page table under it."""
    from bench import pages

    if QUICK:
        os.environ.setdefault("BENCH_SMALL", "200")
        os.environ.setdefault("BENCH_LARGE", "1000")
        pages.SMALL, pages.LARGE = int(os.environ["BENCH_SMALL"]), int(os.environ["BENCH_LARGE"])
    text, missed = pages.bench(say=say, database_url=PAGES_DATABASE_URL)
    timed = text.count("| pass |") + text.count("| MISS |")
    rows.append(
        Row(
            f"Server time of every page, {pages.SMALL:,} vs {pages.LARGE:,} images",
            f"{timed - missed} of {timed} within 20 %",
            "every page within 20 % (× ≤ 1.20)",
            missed == 0,
            f"median of {pages.REQUESTS} requests per page at each size, one a round over every page; the table below",
        )
    )
    return text


# ---------------------------------------------------------------- the slider in Chromium

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def bench_slider(user) -> None:
    from playwright.sync_api import sync_playwright

    from bench import data
    from bulk_analysis.models import Prediction

    say(f"a job of {SLIDER_IMAGES:,} predictions in Chromium")
    job = data.finished_job(user, SLIDER_IMAGES, reviewed=0, seed=7)
    client = Client()
    client.force_login(user)
    origin = "http://bench.invalid"
    path = f"/bulk-analysis/{job.pk}/"
    html = client.get(path)
    assert html.status_code == 200
    # Everything the page loads, fetched beforehand: Playwright's loop forbids the ORM in its thread.
    served = {path: (html.content, "text/html; charset=utf-8")}
    for asset in ("js/bulk.js", "vendor/htmx.min.js", "css/console.css"):
        url = settings.STATIC_URL.rstrip("/") + "/" + asset
        url = url if url.startswith("/") else "/" + url
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        served[url] = (body, response["Content-Type"])
    # What the page must show, counted on the rows themselves.
    done = job.predictions.filter(state=Prediction.State.DONE)
    expected = {t: done.filter(max_confidence__gte=t, max_confidence__gt=0).count() for t in (20, 50, 80, 95)}

    def handle(route):
        found = served.get(route.request.url[len(origin) :].split("?")[0])
        if found:
            route.fulfill(status=200, body=found[0], content_type=found[1])
        else:
            route.fulfill(status=404, body=b"")

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", handle)
        page.goto(origin + path)
        page.wait_for_selector("#threshold-slider")
        for _ in range(3):
            for t in (20, 50, 80, 95):
                page.eval_on_selector(
                    "#threshold-slider",
                    "(el, t) => { el.value = t; el.dispatchEvent(new Event('input')); }",
                    t,
                )
                times.append(float(page.locator("#results").get_attribute("data-recompute-ms")))
                flagged = int(page.locator("[data-metric=flagged]").inner_text())
                assert flagged == expected[t], (t, flagged, expected[t])
        browser.close()
    ms = statistics.median(times)
    rows.append(
        Row(
            f"Slider recount of flagged/unflagged in Chromium, {SLIDER_IMAGES:,} predictions",
            f"{ms:.1f} ms (max {max(times):.1f} ms)",
            "< 50 ms",
            ms < 50,
            "the job detail page's input handler, performance.now() in the page, median of 12 moves; "
            "counts, per-label bars and the grid's chips",
        )
    )
    say(rows[-1].figure)


# ---------------------------------------------------------------- the local engine (bench/engine_bench.py)


def bench_engine() -> None:
    from bench import engine_bench

    for row in engine_bench.rows(
        model_dir=DATA_DIR / "models",
        data_dir=DATA_DIR,
        threads=settings.LOCAL_ENGINE_THREADS,
        quick=QUICK,
        say=say,
    ):
        rows.append(Row(*row))


# ---------------------------------------------------------------- exports (bench/exports_bench.py)


def bench_exports(user) -> None:
    from bench import exports_bench

    rows.extend(Row(*row) for row in exports_bench.rows(user=user, quick=QUICK, say=say))


# ---------------------------------------------------------------- hash banks (bench/hashbanks_bench.py)


def bench_hashbanks() -> None:
    from bench import hashbanks_bench

    rows.extend(Row(*row) for row in hashbanks_bench.rows(quick=QUICK, say=say))


# ---------------------------------------------------------------- label quality (bench/label_quality_bench.py)


def bench_label_quality() -> None:
    from bench import label_quality_bench

    rows.extend(Row(*row) for row in label_quality_bench.rows(quick=QUICK, say=say))


# ---------------------------------------------------------------- the table


def table() -> str:
    lines = [
        "| Measure | Result | Target | |",
        "| --- | --- | --- | --- |",
        *[f"| {r.name} | {r.figure} | {r.target} | {'pass' if r.ok else 'MISS'} |" for r in rows],
    ]
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(lines) + "\n\nHow each figure was measured:\n\n" + "\n".join(notes) + "\n"


def main() -> int:
    setup_test_environment()  # the test client's host; e-mail to memory
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model

    from console.models import Profile

    user = get_user_model().objects.create_user(username="bench", password="bench-password")
    Profile.objects.create(user=user, role=Profile.Role.MANAGER)
    worker_box: list = []
    started = time.perf_counter()
    only_pages = os.environ.get("BENCH_ONLY") == "pages"  # just the page walk (bench/pages.py)
    pages_table = bench_pages()
    if only_pages:
        print("\n" + table() + "\n" + pages_table)
        return 0 if all(r.ok for r in rows) else 1
    try:
        items = bench_bulk(user, worker_box)
        bench_training(user, items)
    finally:
        for worker in worker_box:
            worker.stop()
    bench_manifest(user)
    bench_slider(user)
    bench_engine()
    bench_exports(user)
    bench_hashbanks()
    bench_label_quality()
    cpus = os.cpu_count()
    header = (
        f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}: {platform.machine()}, {cpus} CPUs, "
        f"Python {platform.python_version()}, SQLite, files on local disk, filesystem broker, "
        f"local engine; {time.perf_counter() - started:.0f} s in all.\n"
    )
    text = table() + "\n" + pages_table
    print("\n" + header + "\n" + text)
    (ROOT / "bench" / "RESULTS.md").write_text("# Benchmark results\n\n" + header + "\n" + text)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    try:
        code = main()
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
    sys.exit(code)
