"""Every page of the console, found by walking the URL configuration, timed at two sizes.

bench/run.py runs both sizes, each in its own process on its own fresh database (a temporary
SQLite file, or with DATABASE_URL a scratch PostgreSQL database made from it), their rounds of
requests taken in turn, and prints the table: the median of REQUESTS requests per page at both
sizes and their ratio.
tests/perf/test_query_counts.py walks the same pages (`requests_for`) to hold their query
counts constant.

A page whose parameters cannot be filled from the world (bench.data.page_world) is listed by
name, never skipped in silence; so are the URL names measured otherwise (the API) or not at
all (public pages, POST-only actions, downloads whose body is the data itself).

Standalone: .venv/bin/python bench/pages.py (a child, told when to run each round: --size N --out F)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 15  # timed requests per page after one warm-up; the median is reported
SLOW_SECONDS = 3.0  # a page whose warm-up took longer is timed 3 times, not REQUESTS (it is a MISS anyway)

# Not console pages, or measured another way.
PUBLIC = {"login", "console-healthz", "oidc_authentication_init", "oidc_authentication_callback"}
API = {"api-rekognition", "api-rekognition-noslash"}  # the operations below, called directly
# Files whose body is the data: a download of n lines takes time in n by design.
DOWNLOADS = {
    "bulk-results",
    "projects-manifest",
    "hashbanks-export",
    "quality-frozen-manifest",
    "quality-compare-diff",
}
API_CALLS = ["DescribeProjects", "DescribeProjectVersions", "ListMediaAnalysisJobs", "GetMediaAnalysisJob"]


@dataclass
class Request:
    label: str  # what the table calls it: the URL name, with its query if any
    name: str  # the URL name
    url: str


def walk(patterns, namespace=""):
    """(qualified URL name, its parameter names) of every URL pattern (as tests/hardening/test_roles.py)."""
    from django.urls import URLPattern, URLResolver

    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", sorted(entry.pattern.regex.groupindex)


def _first_pk(model_path: str):
    from django.apps import apps
    from django.db import DatabaseError

    try:
        model = apps.get_model(model_path)
        return model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    except (LookupError, DatabaseError):  # an app without its table yet
        return None


def _console_kwargs(name: str, params: list[str], world: dict) -> dict | None:
    """The URL parameters of a console page from the world's objects; None if it cannot say."""
    by_prefix = {
        "projects-image-": lambda: {"image_pk": world["image"].pk},
        "projects-": lambda: {"pk": world["project"].pk, "adapter_pk": world["adapter"].pk},
        "adapters-": lambda: {"pk": world["trained"].pk},
        "bulk-": lambda: {"pk": world["job"].pk, "line": 1},
        "verify-project-": lambda: {"pk": world["project"].pk},
        "verify-": lambda: {"pk": world["job"].pk, "line": 1},
        "hashbanks-": lambda: {"pk": _first_pk("hashbanks.Bank"), "hash_pk": _first_pk("hashbanks.BankHash")},
        "webhooks-": lambda: {"pk": _first_pk("webhooks.Webhook")},
        "console-api-keys-": lambda: {"pk": world["api_key"].pk},
        "exports-": lambda: {"pk": _first_pk("exports.Export"), "adapter_pk": world["adapter"].pk},
        "quality-": lambda: {
            "adapter_pk": world["adapter"].pk,
            "pk": _first_pk("quality.SuspectedLabelError"),
            "other_pk": world["trained"].pk,
        },
    }
    for prefix, values in by_prefix.items():
        if name.startswith(prefix) and params:
            found = values()
            kwargs = {p: found.get(p) for p in params}
            return kwargs if all(v is not None for v in kwargs.values()) else None
    return {} if not params else None


# Extra views of one page: the adapter page's tabs, the grids' filters.
def _variants(name: str, world: dict) -> list[str]:
    from adapters.queries import TABS

    if name == "adapters-detail":
        return ["", *(f"?tab={tab}" for tab, _ in TABS)]
    if name == "projects-labels":
        return ["", "?state=labeled&label=Alcohol", "?page=3", "?state=suggested"]
    if name == "bulk-detail":
        return ["", "?flag=flagged&page=3"]
    if name == "verify-job":
        return ["", "?order=least-sure&page=3", "?order=flagged"]
    if name == "console-audit":
        return ["", "?project={project}"]
    return [""]


def _admin_requests(names: set[str]) -> tuple[list[Request], set[str], dict[str, str]]:
    """Each registered model's changelist, add and change (its newest row) and history pages."""
    from django.contrib import admin
    from django.urls import reverse

    out, done, empty = [], set(), {}
    for model in admin.site._registry:
        opts = model._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        newest = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
        for action, args in [("changelist", []), ("add", []), ("change", [newest]), ("history", [newest])]:
            name = f"{base}_{action}"
            if name in names and None not in args:
                out.append(Request(name, name, reverse(name, args=args)))
                done.add(name)
            elif name in names:
                empty[name] = "no row in the world to show"
    for app_label in sorted({m._meta.app_label for m in admin.site._registry}):
        out.append(
            Request(
                f"admin:app_list {app_label}", "admin:app_list", reverse("admin:app_list", args=[app_label])
            )
        )
    done |= {"admin:app_list"}
    for name in ("admin:index", "admin:password_change", "admin:password_change_done", "admin:jsi18n"):
        out.append(Request(name, name, reverse(name)))
        done.add(name)
    return out, done, empty


# Admin pages not worth a row: they redirect, are POST-only, or answer a widget's XHR.
ADMIN_SKIPPED = {
    "admin:login": "redirects a signed-in user",
    "admin:logout": "POST only",
    "admin:view_on_site": "redirects to the object's page",
    "admin:autocomplete": "a widget's XHR, no model asks for it",
    "admin:auth_user_password_change": "a form without data (measured as admin:auth_user_change)",
}


def requests_for(world: dict) -> tuple[list[Request], dict[str, str]]:
    """Every GET the bench times, and {URL name: why it is not timed} for the rest."""
    from django.urls import get_resolver, reverse

    patterns = dict(walk(get_resolver().url_patterns))
    requests = []
    admin_requests, admin_done, notes = _admin_requests(set(patterns))
    for name, params in sorted(patterns.items()):
        if name in PUBLIC:
            notes[name] = "public (no sign-in)"
        elif name in API:
            notes[name] = "the API: its list and describe operations are timed below"
        elif name in DOWNLOADS:
            notes[name] = "a download whose body is the data (grows with it by design)"
        elif name.startswith("admin:"):
            if name in ADMIN_SKIPPED:
                notes[name] = ADMIN_SKIPPED[name]
            elif name.endswith("_delete"):
                notes[name] = "Django's delete confirmation lists every related row by design"
            elif name not in admin_done and name not in notes:
                notes[name] = "NOT FILLED: no rule gives its parameters"
        else:
            kwargs = _console_kwargs(name, params, world)
            if kwargs is None:
                notes[name] = f"NOT FILLED: no object for {params}"
                continue
            url = reverse(name, kwargs=kwargs)
            for query in _variants(name, world):
                requests.append(Request(name + query, name, url + query.format(project=world["project"].pk)))
    return requests + admin_requests, notes


def api_params(world: dict) -> dict[str, dict]:
    return {
        "DescribeProjects": {"Features": ["CONTENT_MODERATION"]},
        "DescribeProjectVersions": {"ProjectArn": world["project"].arn},
        "ListMediaAnalysisJobs": {},
        "GetMediaAnalysisJob": {"JobId": str(world["job"].job_id)},
    }


def call_api(user, operation: str, params: dict) -> bytes:
    """An operation's handler and the JSON of its answer: what the API view does past the signature."""
    from django.core.serializers.json import DjangoJSONEncoder

    from rekognition_api.operations import OPERATIONS

    return json.dumps(OPERATIONS[operation](user, dict(params)), cls=DjangoJSONEncoder).encode()


def measure(user, world: dict, say=print, wait: Callable[[], None] = lambda: None) -> dict:
    """Each page once to warm it (and to drop those that do not answer 200), then REQUESTS rounds
    over every page, so a burst of load elsewhere on the machine lands on one request of many
    pages, not on all the requests of one page (3 rounds for a page slower than SLOW_SECONDS).
    `wait()` before each round: the parent process takes the two sizes' rounds in turn."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    requests, notes = requests_for(world)
    pages: dict[str, Callable[[], object]] = {}  # label: what requests the page
    for request in requests:
        response = client.get(request.url)
        if response.status_code == 405:
            notes[request.name] = "POST only (GET answers 405)"
            continue
        if response.status_code != 200:
            notes[request.label] = f"GET answered {response.status_code}"
            continue

        def get(url=request.url):
            assert client.get(url).status_code == 200, url

        pages[request.label] = get
    for operation, params in api_params(world).items():
        pages[f"API {operation}"] = lambda o=operation, p=params: call_api(user, o, p)
    rounds: dict[str, int] = {}
    for label, fn in pages.items():
        started = time.perf_counter()
        fn()
        rounds[label] = 3 if time.perf_counter() - started > SLOW_SECONDS else REQUESTS
    samples: dict[str, list[float]] = {label: [] for label in pages}
    for round_ in range(REQUESTS):
        wait()
        for label, fn in pages.items():
            if round_ < rounds[label]:
                started = time.perf_counter()
                fn()
                samples[label].append(1000 * (time.perf_counter() - started))
        say(f"round {round_ + 1} of {REQUESTS} over {len(pages)} pages")
    times = {label: statistics.median(found) for label, found in samples.items()}
    counts = {label: len(found) for label, found in samples.items()}
    return {"times": times, "counts": counts, "notes": notes}


# ---------------------------------------------------------------- both sizes, each in its own process

SMALL = int(os.environ.get("BENCH_SMALL", "1000"))
LARGE = int(os.environ.get("BENCH_LARGE", "500000"))  # a quick run sets a smaller large size
LIMIT = 1.20  # the large size's median over the small size's: MISS above


def _scratch_url(base: str, size: int) -> str:
    """A PostgreSQL database of its own for one size, made afresh from DATABASE_URL's server."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(base)
    name = f"console_bench_pages_{size}"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def _drop(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')


class Size:
    """One size in a child process of its own (a fresh DATA_DIR, its SQLite file, or a scratch
    PostgreSQL database): its world made, then one round of requests each time it is told."""

    def __init__(self, size: int, database_url: str | None):
        self.size = size
        self.data_dir = tempfile.mkdtemp(prefix="console-bench-pages-")
        self.url = _scratch_url(database_url, size) if database_url else None
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
        env["DATA_DIR"] = self.data_dir
        if self.url:
            env["DATABASE_URL"] = self.url
        self.out = Path(self.data_dir) / "times.json"
        command = [sys.executable, str(Path(__file__)), "--size", str(size), "--out", str(self.out)]
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def until(self, marker: str) -> None:
        """Pass the child's output on until it prints `marker`."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == marker:
                return
            print(line, end="", flush=True)
        raise RuntimeError(f"the page bench at {self.size:,} images ended early (exit {self.process.wait()})")

    def round(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        self.until(DONE)

    def result(self) -> dict:
        return json.loads(self.out.read_text())  # written before the last round's DONE

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.url:
            _drop(self.url)


DONE = "@done"  # a child's line: its world is ready, its round is over, its times are written


def compare(small: dict, large: dict) -> tuple[list[tuple[str, float, float, float]], dict[str, str]]:
    """(label, small ms, large ms, ratio) of every page timed at both sizes, and the notes."""
    rows = []
    for label, before in small["times"].items():
        after = large["times"].get(label)
        if after is not None:
            rows.append((label, before, after, after / before))
    notes = {**small["notes"], **large["notes"]}
    for label in set(small["times"]) ^ set(large["times"]):
        notes[label] = "timed at one size only"
    return rows, notes


def table(rows, notes, small: int, large: int, vendor: str) -> str:
    lines = [
        f"Every page at {small:,} and {large:,} images ({vendor}; median of {REQUESTS} requests in {REQUESTS} rounds, "
        "Django test client in-process; API operations called past the signature check):",
        "",
        f"| Page | {small:,} | {large:,} | Ratio | |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {label} | {a:.1f} ms | {b:.1f} ms | ×{r:.2f} | {'pass' if r <= LIMIT else 'MISS'} |"
            for label, a, b, r in rows
        ],
        "",
        "Not timed:",
        "",
        *[f"- {name}: {why}" for name, why in sorted(notes.items())],
    ]
    return "\n".join(lines) + "\n"


def bench(say=print, database_url: str | None = None) -> tuple[str, int]:
    """Both sizes, their rounds taken in turn, so that a machine whose speed drifts (a shared VM,
    a database writing in the background) moves both sizes' times alike; the table and how many
    pages missed."""
    say(f"every page at {SMALL:,} and {LARGE:,} images: the two worlds made side by side")
    sizes: list[Size] = []
    try:
        for n in (SMALL, LARGE):
            sizes.append(Size(n, database_url))
        for size in sizes:
            size.until(DONE)
        for round_ in range(REQUESTS):
            for size in sizes:
                size.round()
            say(f"round {round_ + 1} of {REQUESTS} at both sizes")
        small, large = (size.result() for size in sizes)
    finally:
        for size in sizes:
            size.close()
    rows, notes = compare(small, large)
    misses = sum(r > LIMIT for *_, r in rows)
    return table(rows, notes, SMALL, LARGE, small.get("vendor", "?")), misses


def child() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if "DATA_DIR" not in os.environ:  # run alone (the parent gives each size its own)
        os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="console-bench-pages-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from django.test.utils import setup_test_environment

    from bench import data
    from console.models import Profile

    def say(message: str) -> None:
        print(f"[pages {args.size:,} {time.strftime('%H:%M:%S')}] {message}", flush=True)

    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_superuser(username="bench", password="bench-password")
    Profile.objects.update_or_create(user=user, defaults={"role": Profile.Role.ADMIN})
    started = time.perf_counter()
    world = data.page_world(user, args.size)
    say(f"world of {args.size:,} images made in {time.perf_counter() - started:.0f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # as autovacuum would have by the time anyone looks, and not while the pages are timed
            cursor.execute("VACUUM ANALYZE")
            # the load's dirty pages written out now, not by the checkpointer while pages are timed
            with contextlib.suppress(DatabaseError):  # needs a superuser (or pg_checkpoint)
                cursor.execute("CHECKPOINT")
    gc.collect()
    gc.freeze()  # what the world's making left in memory is not scanned by each request's GC

    def wait() -> None:
        print(DONE, flush=True)
        if not sys.stdin.readline():
            raise SystemExit("the parent process is gone")

    result = measure(user, world, say, wait)
    result["vendor"] = connection.vendor
    args.out.write_text(json.dumps(result))
    print(DONE, flush=True)
    return 0


if __name__ == "__main__":
    if "--size" in sys.argv:
        sys.exit(child())
    text, missed = bench(database_url=os.environ.get("DATABASE_URL"))
    print("\n" + text)
    sys.exit(1 if missed else 0)
