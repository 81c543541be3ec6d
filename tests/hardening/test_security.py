"""Security: CSRF on every form and POST, production cookie and header settings, size caps before
reading, S3 reads only through the configured endpoint, no user-given path on the file system.

Already tested elsewhere, not repeated here: the sign-in lock per user name and the request size
middleware on one URL (tests/console/test_security.py), the API's signature window
(tests/api/test_auth.py).
"""

import json
import os
import re
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import Adapter, Image
from bulk_analysis import services as bulk
from bulk_analysis.models import Prediction
from console.lib import s3
from console.models import LoginFailure
from projects import services
from rekognition_api.keys import create_api_key
from tests.bulk_analysis.conftest import finished_job
from tests.hardening import corpus
from tests.hardening.conftest import stored_files

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(owner):
    """One of everything a page can show: a project with a draft adapter holding an image, a trained
    adapter, a job not started yet, a finished job, an API key."""
    project = services.create_project(user=owner, name="policy")
    adapter = adapter_services.create_adapter(user=owner, project=project, name="draft")
    datasets.import_files(user=owner, adapter=adapter, files=[("a.jpg", corpus.make_image_bytes(seed=1))])
    trained = adapter_services.create_adapter(user=owner, project=project, name="trained")
    assert trained.transition([Adapter.Status.DRAFT], Adapter.Status.TRAINING_COMPLETED)
    created = bulk.create_job(user=owner, name="waiting")
    done = finished_job(owner, [{"Alcohol": 80.0}, {}])
    key, _ = create_api_key(user=owner, name="k")
    return {
        "project": project,
        "adapter": adapter,
        "trained": trained,
        "created": created,
        "done": done,
        "key": key,
    }


def pages(w) -> list[str]:
    p, a = w["project"], w["adapter"]
    return [
        reverse("console-home"),
        reverse("console-notifications"),
        reverse("console-api-keys"),
        reverse("console-audit"),
        reverse("projects-new"),
        reverse("projects-detail", args=[p.pk]),
        reverse("projects-labels", args=[p.pk, a.pk]),
        reverse("projects-add-images", args=[p.pk, a.pk]),
        reverse("adapters-detail", args=[w["trained"].pk]),
        reverse("adapters-detail", args=[a.pk]),
        reverse("adapters-train", args=[a.pk]),
        reverse("adapters-delete", args=[a.pk]),
        reverse("bulk-list"),
        reverse("bulk-new"),
        reverse("bulk-detail", args=[w["created"].pk]),
        reverse("bulk-detail", args=[w["done"].pk]),
        reverse("verify-job", args=[w["done"].pk]),
        reverse("verify-train", args=[w["done"].pk]),
    ]


FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.DOTALL | re.IGNORECASE)
TOKEN = re.compile(r'<input[^>]+name="csrfmiddlewaretoken"[^>]+value="[^"]{32,}"')


def post_forms(content: str) -> list[str]:
    return [body for attrs, body in FORM.findall(content) if re.search(r'method="?post', attrs, re.I)]


# ---------------------------------------------------------------- CSRF


def test_every_post_form_on_every_page_carries_the_csrf_token(owner_client, world):
    checked = 0
    for url in pages(world):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        forms = post_forms(content)
        assert forms, f"{url} has no POST form (not even sign-out)"
        for body in forms:
            assert TOKEN.search(body), f"a POST form on {url} has no CSRF token:\n{body[:500]}"
            checked += 1
        if "hx-post" in content:  # htmx requests send the token as a header set on <body>
            assert re.search(r"<body[^>]*hx-headers='\{\"X-CSRFToken\": \"[^\"]{32,}\"\}'", content), url
    assert checked >= len(pages(world))


def test_the_sign_in_form_carries_the_csrf_token(client):
    forms = post_forms(client.get(reverse("login")).content.decode())
    assert forms and all(TOKEN.search(body) for body in forms)


def named_patterns(resolver=None, prefix=""):
    """(name, pattern text, callback) of every named URL outside the admin."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            yield from named_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield entry.name, prefix + str(entry.pattern), entry.callback


API_VIEWS = {"api-rekognition", "api-rekognition-noslash"}


def test_only_the_signed_api_is_exempt_from_csrf():
    exempt = {name for name, _, callback in named_patterns() if getattr(callback, "csrf_exempt", False)}
    assert exempt == API_VIEWS


def test_a_post_without_the_token_is_refused_on_every_url(owner, world, snapshot):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    before = snapshot()
    tried = 0
    for name, pattern, _ in named_patterns():
        if name in API_VIEWS:
            continue
        kwargs = {key: 1 for key in re.findall(r"<int:(\w+)>", pattern)}
        url = reverse(name, kwargs=kwargs)
        response = client.post(url, {"name": "x", "files": "y", "blur": "on"})
        assert response.status_code == 403, (
            f"{name} {url} answered {response.status_code} without a CSRF token"
        )
        assert b"CSRF" in response.content, name
        tried += 1
    assert tried >= 20
    before.assert_unchanged()
    # With the token, the same client is let through (the refusals above were CSRF's).
    token = client.get(reverse("console-notifications")).context["csrf_token"]
    response = client.post(reverse("console-notifications-read"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_sign_in_without_the_token_is_refused(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


# ---------------------------------------------------------------- production settings

PRODUCTION = r"""
import json, django
django.setup()
from django.conf import settings
from django.test import Client
names = ["DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_HTTPONLY",
         "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF",
         "SECURE_REFERRER_POLICY", "ALLOWED_HOSTS"]
client = Client()
plain = client.get("/login/")
secure = client.get("/login/", secure=True)
print(json.dumps({
    "settings": {name: getattr(settings, name) for name in names},
    "plain": [plain.status_code, plain.get("Location", "")],
    "secure": secure.status_code,
    "headers": dict(secure.headers),
    "cookies": {n: {"secure": m["secure"], "httponly": m["httponly"], "samesite": m["samesite"]}
                for n, m in secure.cookies.items()},
    "bad_host": client.get("/login/", secure=True, headers={"Host": "evil.example"}).status_code,
}))
"""


def production(tmp_path, **env):
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DATA_DIR": str(tmp_path),
        "DJANGO_DEBUG": "",
        "DJANGO_SECRET_KEY": "k" * 10 + "-production-secret-key-for-the-settings-test-0123456789",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_make_cookies_and_headers_secure(tmp_path):
    out = production(tmp_path, DJANGO_SECURE="true")
    s = out["settings"]
    assert s["DEBUG"] is False
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"] and s["SESSION_COOKIE_HTTPONLY"]
    assert s["SESSION_COOKIE_SAMESITE"] == "Lax" and s["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert (
        s["SECURE_SSL_REDIRECT"]
        and s["SECURE_HSTS_SECONDS"] >= 31536000
        and s["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    )
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    # Plain HTTP is sent to HTTPS; the HTTPS answer carries the headers and a Secure CSRF cookie.
    assert out["plain"] == [301, "https://testserver/login/"]
    assert out["secure"] == 200
    headers = {k.lower(): v for k, v in out["headers"].items()}
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert "includeSubDomains" in headers["strict-transport-security"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert out["cookies"]["csrftoken"]["secure"] is True
    assert out["cookies"]["csrftoken"]["samesite"] == "Lax"
    assert out["bad_host"] == 400  # ALLOWED_HOSTS is enforced


def test_without_production_settings_nothing_claims_https(tmp_path):
    out = production(tmp_path, DJANGO_SECURE="false")
    s = out["settings"]
    assert not s["SESSION_COOKIE_SECURE"] and not s["SECURE_SSL_REDIRECT"] and s["SECURE_HSTS_SECONDS"] == 0
    assert s["SECURE_PROXY_SSL_HEADER"] is None  # an X-Forwarded-Proto header is not trusted
    assert out["plain"] == [200, ""]
    assert s["X_FRAME_OPTIONS"] == "DENY" and s["SESSION_COOKIE_HTTPONLY"]


# ---------------------------------------------------------------- sign-in limits (gaps of tests/console)


def test_it_locks_an_address_that_guesses_many_user_names(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 2  # an address gets 4 times the per-user limit
    for i in range(8):
        client.post(
            reverse("login"), {"username": f"guess{i}", "password": "wrong"}, REMOTE_ADDR="203.0.113.9"
        )
    locked = client.post(
        reverse("login"), {"username": "owner", "password": "pw-owner"}, REMOTE_ADDR="203.0.113.9"
    )
    assert locked.status_code == 429
    other = Client().post(
        reverse("login"), {"username": "owner", "password": "pw-owner"}, REMOTE_ADDR="198.51.100.1"
    )
    assert other.status_code == 302


def test_old_failures_no_longer_count(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert client.post(reverse("login"), {"username": "owner", "password": "pw-owner"}).status_code == 429
    LoginFailure.objects.update(
        at=timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    )
    assert client.post(reverse("login"), {"username": "owner", "password": "pw-owner"}).status_code == 302


def test_a_refused_attempt_does_not_reveal_whether_the_password_was_right(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    right = client.post(reverse("login"), {"username": "owner", "password": "pw-owner"})
    wrong = client.post(reverse("login"), {"username": "owner", "password": "wrong-again"})
    assert right.status_code == wrong.status_code == 429
    assert "_auth_user_id" not in client.session


# ---------------------------------------------------------------- size caps before reading


UPLOAD_URLS = [
    ("projects-upload", "adapter"),
    ("projects-add-images", "adapter"),
    ("projects-new", None),
    ("bulk-upload", "created"),
    ("bulk-new", None),
    ("api-rekognition", None),
]


@pytest.mark.parametrize(("name", "obj"), UPLOAD_URLS)
def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(owner_client, world, snapshot, name, obj):
    """Only 10 bytes are sent but a terabyte is declared: reading the body would hang or fail."""
    target = world.get(obj) if obj else None
    args = (
        [target.project_id, target.pk]
        if name.startswith("projects-") and target
        else [target.pk]
        if target
        else []
    )
    before = snapshot()
    response = owner_client.generic(
        "POST",
        reverse(name, args=args),
        b"0123456789",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10**12),
    )
    assert response.status_code == 413
    assert "larger than the 256 MB limit" in response.content.decode()
    before.assert_unchanged()


def test_each_uploaded_file_is_capped_at_15_mb(owner_client, world, snapshot):
    adapter, job = world["adapter"], world["created"]
    big = corpus.mb16()
    before = snapshot()
    project_answer = owner_client.post(
        reverse("projects-upload", args=[adapter.project_id, adapter.pk]),
        {"files": [corpus_upload("big.jpg", big)]},
    ).json()
    bulk_answer = owner_client.post(
        reverse("bulk-upload", args=[job.pk]),
        {"images": [corpus_upload("big.jpg", big)]},
        headers={"Accept": "application/json"},
    ).json()
    assert project_answer["failed"] == [
        {"name": "big.jpg", "reason": "image is 16,777,216 bytes; the limit is 15,728,640 bytes (15 MB)"}
    ]
    assert bulk_answer["failed"] == [{"name": "big.jpg", "reason": "is 16,777,216 bytes; the limit is 15 MB"}]
    before.assert_unchanged(allow_rows={"console.AuditEntry"})


def corpus_upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


# ---------------------------------------------------------------- S3 only through the configured endpoint


@pytest.fixture
def network(monkeypatch):
    """Every host name this process tries to reach (nothing is reached: look-ups fail)."""
    hosts: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        hosts.append(host)
        raise socket.gaierror(f"no network in this test ({host})")

    def connect(self, address):
        hosts.append(str(address))
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return hosts


BAD_LOCATIONS = [
    ("http", "http://169.254.169.254/latest/meta-data/"),
    ("https", "https://evil.example/images/"),
    ("file", "file:///etc/"),
    ("dotdot", "s3://console-local/../../etc/"),
    ("dotdot-inside", "s3://console-local/datasets/../../"),
    ("absolute", "s3://console-local//etc/"),
    ("no-scheme", "/etc/passwd"),
]


@pytest.mark.parametrize(("case", "uri"), BAD_LOCATIONS, ids=[c[0] for c in BAD_LOCATIONS])
def test_an_s3_location_that_is_not_an_s3_prefix_is_refused_without_any_access(
    owner_client, world, snapshot, network, case, uri
):
    adapter = world["adapter"]
    before = snapshot()
    page = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {"source": "s3", "s3_uri": uri, "test_data": "keep"},
        headers={"Accept": "application/json"},
    )
    assert page.status_code == 400
    assert any(
        e.startswith("S3 location: ") and "s3://bucket/folder/" in e or "invalid folder" in e
        for e in page.json()["errors"]
    )
    job = owner_client.post(
        reverse("bulk-new"),
        {"name": "from-s3", "min_confidence": "50", "source": "s3", "s3_uri": uri},
        headers={"Accept": "application/json"},
    )
    assert job.status_code == 400
    assert any(e.startswith("S3 prefix: ") for e in job.json()["errors"]), job.json()
    assert network == []
    before.assert_unchanged()


def test_a_bucket_that_is_not_ours_is_refused_when_s3_is_not_configured(
    owner_client, world, snapshot, network, monkeypatch, settings
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    adapter = world["adapter"]
    before = snapshot()
    response = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {"source": "s3", "s3_uri": "s3://someone-else/photos/", "test_data": "keep"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert any("S3 is not configured on this console" in e for e in response.json()["errors"])
    assert network == []
    before.assert_unchanged()


def test_s3_is_read_only_through_the_configured_endpoint(
    owner_client, world, snapshot, network, monkeypatch, settings
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings.AWS_S3_ENDPOINT_URL = "http://objects.internal.example:9000"
    assert s3.client().meta.endpoint_url == settings.AWS_S3_ENDPOINT_URL
    adapter = world["adapter"]
    before = snapshot()
    response = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {"source": "s3", "s3_uri": "s3://their-bucket/photos/", "test_data": "keep"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert any(
        e.startswith("S3 location: cannot list s3://their-bucket/photos/") for e in response.json()["errors"]
    )
    assert network and set(network) == {"objects.internal.example"}
    before.assert_unchanged()


@pytest.mark.parametrize("case", ["http-url", "file-url", "dotdot-key", "absolute-key"])
def test_a_manifest_source_ref_outside_the_bucket_is_refused_without_any_access(
    owner_client, world, snapshot, network, case
):
    build = {c[0]: c[1] for c in corpus.BAD_GROUNDTRUTH}[case]
    data = build()
    adapter = world["adapter"]
    before = snapshot()
    response = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {"source": "manifest", "manifest": corpus_upload("evil.manifest", data), "test_data": "keep"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert any("evil.manifest line 1: " in e for e in response.json()["errors"])
    assert network == []
    before.assert_unchanged()
    for content in stored_files(snapshot().root):
        assert "passwd" not in content


# ---------------------------------------------------------------- no user-given path reaches the file system

EVIL_NAMES = [
    "../../etc/passwd.jpg",
    "..\\..\\windows\\system.jpg",
    "/etc/cron.d/job.jpg",
    "....//....//x.jpg",
    "a" * 300 + ".jpg",
    "%2e%2e%2fup.jpg",
]


def _all_files_inside(root: Path) -> None:
    outside = [
        p for p in root.parent.rglob("*") if p.is_file() and root not in p.parents and p.name != "worker.log"
    ]
    assert outside == [], f"files written outside the storage root: {outside}"


def test_uploaded_file_names_never_choose_where_a_file_is_stored(owner_client, owner, world, own_storage):
    adapter, job = world["adapter"], world["created"]
    before = stored_files(own_storage)
    files = [(name, corpus.make_image_bytes(seed=100 + i)) for i, name in enumerate(EVIL_NAMES)]
    # Through HTTP (Django's parser keeps only a base name) and straight into the services, as the API does.
    response = owner_client.post(
        reverse("projects-upload", args=[adapter.project_id, adapter.pk]),
        {"files": [corpus_upload(name, data) for name, data in files[:3]]},
    )
    assert len(response.json()["added"]) == 3
    report = datasets.import_files(user=owner, adapter=adapter, files=files[3:])
    assert len(report.added) == 3
    bulk.add_files(job=job, files=files)
    owner_client.post(
        reverse("bulk-upload", args=[job.pk]),
        {"images": [corpus_upload(name, data) for name, data in files[:3]]},
        headers={"Accept": "application/json"},
    )
    new = stored_files(own_storage) - before
    for image in Image.objects.filter(adapter=adapter).exclude(original_name="a.jpg"):
        assert re.fullmatch(rf"datasets/{adapter.pk}/[0-9a-f]{{64}}\.jpg", image.file), image.file
        assert re.fullmatch(rf"datasets/{adapter.pk}/thumbnails/[0-9a-f]{{64}}\.jpg", image.thumbnail)
    for prediction in Prediction.objects.filter(job=job):
        assert re.fullmatch(rf"bulk-analysis/{job.pk}/images/[A-Za-z0-9._-]+", prediction.file), (
            prediction.file
        )
    assert all(".." not in name.split("/") and "\\" not in name for name in new), new
    assert len(new) == 6 * 2 + 9 * 2  # each image and its thumbnail
    _all_files_inside(own_storage)


def test_files_are_served_by_id_and_no_url_takes_a_path(owner_client, world):
    converters = {c for _, pattern, _ in named_patterns() for c in re.findall(r"<(\w+):", pattern)}
    assert converters == {"int"}, "a URL takes something other than an id"
    image = world["adapter"].images.get()
    assert owner_client.get(reverse("projects-image-file", args=[image.pk])).status_code == 200
    for url in (
        "/projects/images/..%2F..%2Fsecret_key/file/",
        "/projects/images/../../secret_key/file/",
        f"/bulk-analysis/{world['done'].pk}/images/..%2Finput.manifest/",
        "/projects/images/1%00/file/",
    ):
        assert owner_client.get(url).status_code == 404, url
