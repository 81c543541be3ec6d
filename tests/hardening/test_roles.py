"""Who may do what: every page and action of the URL conf, for its role, a lower role and nobody.

The table below maps each URL name to the requests that exercise it: method, the lowest role
allowed, how to build its arguments and data, and the status the allowed role gets. The test walks
the URL conf, so a page added without a row here fails test_the_table_covers_every_url_name.

Roles: viewer (reads), annotator (labels and verifies), manager (trains, runs jobs, deletes),
admin. A lower role gets 403 and changes nothing (no row, no stored file); an anonymous user is
sent to the login page. The API's keys act with their owner's role (the API matrix at the end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from botocore.exceptions import ClientError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import Adapter
from bulk_analysis import services as bulk_services
from bulk_analysis.models import BulkAnalysisJob
from console.lib import storage
from console.models import AuditEntry, Profile
from exports import services as export_services
from hashbanks import services as hashbank_services
from moderation import manifests
from projects import services as project_services
from projects.models import Project
from quality.models import LabelCheck, SuspectedLabelError
from rekognition_api.keys import create_api_key
from rekognition_api.models import ApiKey
from rekognition_api.operations import OPERATIONS
from tests.api.conftest import make_client, put, put_training_manifest
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import make_image_bytes, make_user
from tests.hardening.conftest import Snapshot
from webhooks import services as webhook_services

VIEWER, ANNOTATOR, MANAGER, ADMIN = (
    Profile.Role.VIEWER,
    Profile.Role.ANNOTATOR,
    Profile.Role.MANAGER,
    Profile.Role.ADMIN,
)
ORDER = [VIEWER, ANNOTATOR, MANAGER, ADMIN]


def walk(patterns, namespace=""):
    """(route, qualified name) of every URL pattern, admin's with their "admin:" namespace."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            yield str(entry.pattern), f"{namespace}{entry.name}"


URL_NAMES = sorted({name for _, name in walk(get_resolver().url_patterns)})


def jpeg(seed: int) -> bytes:
    return make_image_bytes(120, 100, seed=seed)


def upload(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg(seed), content_type="image/jpeg")


def photo_png() -> bytes:
    """A real photo (a bank refuses flat generated images: their PDQ quality is too low)."""
    from tests.engine.imagegen import photo_bytes

    return photo_bytes("skimage.data", "camera.png")


class World:
    """The objects the pages act on, made when a case first asks for them (all owned by a manager)."""

    def __init__(self, owner):
        self.owner = owner

    @cached_property
    def project(self) -> Project:
        return project_services.create_project(user=self.owner, name="roles")

    @cached_property
    def empty_project(self) -> Project:
        return project_services.create_project(user=self.owner, name="roles-empty")

    @cached_property
    def adapter(self) -> Adapter:
        adapter = adapter_services.create_adapter(user=self.owner, project=self.project, name="draft")
        report = datasets.import_files(
            user=self.owner, adapter=adapter, files=[(f"img{i}.jpg", jpeg(i)) for i in range(1, 3)]
        )
        assert len(report.added) == 2
        return adapter

    @cached_property
    def image(self):
        return self.adapter.images.order_by("pk").first()

    def adapter_args(self, _user=None) -> list:
        return [self.project.pk, self.adapter.pk]

    @cached_property
    def job(self) -> BulkAnalysisJob:
        """A SUCCEEDED job with its results and summary files."""
        job = finished_job(self.owner, [{"Alcohol": 80.0}, {}], name="roles-done")
        rows = job.predictions.order_by("line")
        job.output_manifest = storage.save(
            f"bulk-analysis/{job.pk}/output/output.manifest",
            manifests.write_bulk_output((p.source_ref, p.response) for p in rows).encode(),
        )
        job.summary = storage.save(
            f"bulk-analysis/{job.pk}/output/manifest-summary.json", manifests.write_summary(2, []).encode()
        )
        job.save(update_fields=["output_manifest", "summary"])
        return job

    @cached_property
    def created_job(self) -> BulkAnalysisJob:
        job = bulk_services.create_job(user=self.owner, name="roles-new")
        bulk_services.add_files(job=job, files=[("one.jpg", jpeg(9))])
        return job

    @cached_property
    def bank(self):
        bank = hashbank_services.create_bank(user=self.owner, name="roles-bank", kind="allow")
        hashbank_services.import_hash_list(user=self.owner, bank=bank, data=b"f0" * 32, name="one.txt")
        return bank

    @cached_property
    def bank_item(self) -> str:
        """What an "Add to bank" form of a grid posts: its image, signed."""
        from django.core import signing

        from hashbanks.views import ADD_SALT

        item = {"file": self.image.file, "sha256": self.image.sha256, "source": "dataset image"}
        return signing.dumps(item, salt=ADD_SALT)

    def bank_args(self, _user=None) -> list:
        return [self.bank.pk]

    @cached_property
    def suspect(self):
        """A finished label check's suspect: the dataset's first image, said to lack Alcohol."""
        check = LabelCheck.objects.create(
            adapter=self.adapter, status=LabelCheck.Status.DONE, created_by=self.owner, found=1
        )
        return SuspectedLabelError.objects.create(
            label_check=check, image=self.image, label="Alcohol", given=False, probability=0.9, score=0.9
        )

    def _frozen(self, name: str, labels: list[list[str]]) -> Adapter:
        """A TRAINING_COMPLETED adapter of the project whose frozen training manifest lists the
        draft dataset's images with these labels (the Compare page's pair)."""
        from tests.adapters.conftest import finished_evaluation

        images = list(self.adapter.images.order_by("pk"))
        adapter = adapter_services.create_adapter(user=self.owner, project=self.project, name=name)
        manifest = manifests.write_groundtruth(
            (storage.uri_for(image.file), names) for image, names in zip(images, labels, strict=True)
        )
        Adapter.objects.filter(pk=adapter.pk).update(
            status=Adapter.Status.TRAINING_COMPLETED,
            training_manifest=storage.save(f"adapters/{adapter.pk}/train.manifest", manifest.encode()),
            evaluation=finished_evaluation(adapter.arn),
        )
        adapter.refresh_from_db()
        return adapter

    @cached_property
    def trained(self) -> Adapter:
        return self._frozen("trained", [["Alcohol"], []])

    @cached_property
    def retrained(self) -> Adapter:
        return self._frozen("retrained", [["Alcohol"], ["Alcohol"]])


@dataclass
class Case:
    name: str
    method: str
    role: str  # the lowest role allowed
    ok: tuple[int, ...]  # what the allowed role gets
    args: Callable = lambda w, user: []
    data: Callable = lambda w: {}
    query: Callable = lambda w: {}
    headers: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.method}"


def job_line(w, user):
    return [w.job.pk, 1]


def webhook(w, user=None) -> list:
    """A webhook the manager registered (made once per world)."""
    if not hasattr(w, "webhook"):
        w.webhook = webhook_services.create_webhook(
            user=w.owner, url="https://hooks.example.com/roles", events=["bulk_job.failed"]
        )
    return [w.webhook.pk]


def export(w, user=None) -> list:
    """A finished export of the dataset's manifest (made once per world)."""
    if not hasattr(w, "export"):
        w.export = export_services.start_adapter_manifest(user=w.owner, adapter=w.adapter, split="train")
        export_services.run_export(export_id=w.export.pk)
    return [w.export.pk]


WEBHOOK_FORM = {
    "url": "https://hooks.example.com/made-here",
    "events": ["adapter.deprecated"],
    "active": "on",
}


CASES = [
    # The console shell
    Case("console-home", "get", VIEWER, (200,)),
    Case("console-notifications", "get", VIEWER, (200,)),
    Case("console-notifications-read", "post", VIEWER, (302,)),
    Case("console-audit", "get", VIEWER, (200,), query=lambda w: {"project": w.project.pk}),
    Case("console-protection", "get", VIEWER, (200,)),
    Case(
        "console-protection",
        "post",
        VIEWER,
        (302,),
        data=lambda w: {"protection_mode": "greyscale", "protected_categories": ["Violence"]},
    ),
    Case("console-protection-organisation", "get", ADMIN, (200,)),
    Case(
        "console-protection-organisation",
        "post",
        ADMIN,
        (302,),
        data=lambda w: {"mode": "both", "categories": ["Explicit"]},
    ),
    Case("logout", "post", VIEWER, (302,)),
    Case("console-api-keys", "get", VIEWER, (200,)),
    Case("console-api-keys-create", "post", VIEWER, (302,), data=lambda w: {"name": "mine"}),
    Case(
        "console-api-keys-revoke",
        "post",
        VIEWER,
        (302,),
        # A person revokes their own keys (someone else's is a 404, see tests/api/test_keys.py).
        args=lambda w, user: [create_api_key(user=user)[0].pk if user else 1],
    ),
    # Projects, datasets and labels
    Case("projects-new", "get", MANAGER, (200,)),
    Case(
        "projects-new",
        "post",
        MANAGER,
        (302,),
        data=lambda w: {
            "project_mode": "new",
            "project_name": "made-here",
            "adapter_name": "first",
            "auto_update": "on",
            "source": "upload",
            "test_data": "autosplit",
            "files": [upload("a.jpg", 31)],
        },
    ),
    Case("projects-detail", "get", VIEWER, (200,), args=lambda w, user: [w.project.pk]),
    Case("projects-delete", "post", MANAGER, (302,), args=lambda w, user: [w.empty_project.pk]),
    Case("projects-labels", "get", VIEWER, (200,), args=lambda w, user: w.adapter_args()),
    Case(
        "projects-label-images",
        "post",
        ANNOTATOR,
        (302,),
        args=lambda w, user: w.adapter_args(),
        data=lambda w: {"image": [w.image.pk], "action": "add", "label": ["Alcohol"]},
    ),
    Case("projects-add-images", "get", MANAGER, (200,), args=lambda w, user: w.adapter_args()),
    Case(
        "projects-add-images",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: w.adapter_args(),
        data=lambda w: {"source": "upload", "test_data": "keep", "files": [upload("b.jpg", 32)]},
    ),
    Case(
        "projects-upload",
        "post",
        MANAGER,
        (200,),
        args=lambda w, user: w.adapter_args(),
        data=lambda w: {"files": [upload("c.jpg", 33)]},
    ),
    Case("projects-manifest", "get", VIEWER, (200,), args=lambda w, user: w.adapter_args()),
    Case("projects-image-thumbnail", "get", VIEWER, (200,), args=lambda w, user: [w.image.pk]),
    Case("projects-image-file", "get", VIEWER, (200,), args=lambda w, user: [w.image.pk]),
    # Adapters
    Case("adapters-detail", "get", VIEWER, (200,), args=lambda w, user: [w.adapter.pk]),
    Case("adapters-train", "get", MANAGER, (200,), args=lambda w, user: [w.adapter.pk]),
    Case("adapters-cancel", "post", MANAGER, (302,), args=lambda w, user: [w.adapter.pk]),
    Case("adapters-retrain", "post", MANAGER, (302,), args=lambda w, user: [w.adapter.pk]),
    # Two images are too few to train: the manager gets the form back with what blocks training.
    Case(
        "adapters-train",
        "post",
        MANAGER,
        (400,),
        args=lambda w, user: [w.adapter.pk],
        data=lambda w: {"confidence_threshold": "50", "encryption": "default"},
    ),
    Case("adapters-delete", "get", MANAGER, (200,), args=lambda w, user: [w.adapter.pk]),
    Case("adapters-delete", "post", MANAGER, (302,), args=lambda w, user: [w.adapter.pk]),
    # Bulk analysis
    Case("bulk-list", "get", VIEWER, (200,)),
    Case("bulk-new", "get", MANAGER, (200,)),
    Case(
        "bulk-new",
        "post",
        MANAGER,
        (302,),
        data=lambda w: {
            "name": "made-here",
            "min_confidence": "50",
            "source": "computer",
            "images": [upload("d.jpg", 34)],
        },
    ),
    Case("bulk-detail", "get", VIEWER, (200,), args=lambda w, user: [w.job.pk]),
    Case(
        "bulk-upload",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: [w.created_job.pk],
        data=lambda w: {"images": [upload("e.jpg", 35)]},
    ),
    Case("bulk-start", "post", MANAGER, (302,), args=lambda w, user: [w.created_job.pk]),
    # Not running: "nothing to cancel" and back to the job's page.
    Case("bulk-cancel", "post", MANAGER, (302,), args=lambda w, user: [w.job.pk]),
    Case("bulk-results", "get", VIEWER, (200,), args=lambda w, user: [w.job.pk]),
    Case("bulk-summary", "get", VIEWER, (200,), args=lambda w, user: [w.job.pk]),
    Case("bulk-image", "get", VIEWER, (200,), args=job_line),
    Case("bulk-thumbnail", "get", VIEWER, (200,), args=job_line),
    # Exports: whoever may download the manifest may export it
    Case("exports-adapter-manifest", "get", VIEWER, (200,), args=lambda w, user: [w.adapter.pk]),
    Case("exports-adapter-manifest", "post", VIEWER, (302,), args=lambda w, user: [w.adapter.pk]),
    Case("exports-detail", "get", VIEWER, (200,), args=export),
    Case("exports-download", "get", VIEWER, (200,), args=export),
    # Webhooks: managers only (the page shows the signing secret)
    Case("webhooks-list", "get", MANAGER, (200,)),
    Case("webhooks-new", "get", MANAGER, (200,)),
    Case("webhooks-new", "post", MANAGER, (302,), data=lambda w: WEBHOOK_FORM),
    Case("webhooks-detail", "get", MANAGER, (200,), args=webhook),
    Case("webhooks-detail", "post", MANAGER, (302,), args=webhook, data=lambda w: WEBHOOK_FORM),
    Case("webhooks-test", "post", MANAGER, (302,), args=webhook),
    Case("webhooks-rotate-secret", "post", MANAGER, (302,), args=webhook),
    Case("webhooks-delete", "post", MANAGER, (302,), args=webhook),
    # Verification
    Case("verify-job", "get", VIEWER, (200,), args=lambda w, user: [w.job.pk]),
    Case(
        "verify-verdict",
        "post",
        ANNOTATOR,
        (302,),
        args=job_line,
        data=lambda w: {"label": "Alcohol", "verdict": "correct", "threshold": "50"},
    ),
    Case("verify-review", "post", ANNOTATOR, (302,), args=job_line, data=lambda w: {"threshold": "50"}),
    Case(
        "verify-undo",
        "post",
        ANNOTATOR,
        (302,),
        args=job_line,
        data=lambda w: {"label": "Alcohol", "expected": "correct", "restore": ""},
    ),
    Case("verify-train", "get", MANAGER, (200,), args=lambda w, user: [w.job.pk]),
    Case("verify-queue", "get", ANNOTATOR, (200,), args=lambda w, user: [w.job.pk]),
    Case(
        "verify-queue",
        "post",
        ANNOTATOR,
        (302,),
        args=lambda w, user: [w.job.pk],
        data=lambda w: {"line": "1"},
    ),
    Case("projects-delete", "get", MANAGER, (200,), args=lambda w, user: [w.empty_project.pk]),
    # No verdict on line 1 to give its (absent) near-duplicates: back to the page with the reason.
    Case(
        "verify-group",
        "post",
        ANNOTATOR,
        (302,),
        args=job_line,
        data=lambda w: {"label": "Alcohol", "threshold": "50"},
    ),
    Case("verify-group-undo", "post", ANNOTATOR, (302,), args=job_line, data=lambda w: {"token": "x"}),
    Case(
        "verify-second-review",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: [w.job.pk],
        data=lambda w: {"share": "10"},
    ),
    Case("verify-agreement", "get", VIEWER, (200,), args=lambda w, user: [w.job.pk]),
    # No disagreement on line 1: back to the agreement page with the reason.
    Case("verify-adjudicate", "post", MANAGER, (302,), args=job_line, data=lambda w: {"labels": "Alcohol"}),
    Case("verify-project-agreement", "get", VIEWER, (200,), args=lambda w, user: [w.project.pk]),
    Case(
        "verify-project-second-review",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: [w.project.pk],
        data=lambda w: {"share": "10"},
    ),
    # Hash banks
    Case("hashbanks-list", "get", VIEWER, (200,)),
    Case(
        "hashbanks-create",
        "post",
        MANAGER,
        (302,),
        data=lambda w: {"name": "made-here", "kind": "label", "label": "Alcohol", "match_distance": "31"},
    ),
    Case("hashbanks-detail", "get", VIEWER, (200,), args=lambda w, user: w.bank_args()),
    Case(
        "hashbanks-edit",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: w.bank_args(),
        data=lambda w: {"name": "renamed", "kind": "allow", "match_distance": "20"},
    ),
    Case("hashbanks-delete", "get", MANAGER, (200,), args=lambda w, user: w.bank_args()),
    Case("hashbanks-delete", "post", MANAGER, (302,), args=lambda w, user: w.bank_args()),
    Case(
        "hashbanks-upload",
        "post",
        ANNOTATOR,
        (302,),
        args=lambda w, user: w.bank_args(),
        data=lambda w: {"images": [SimpleUploadedFile("p.png", photo_png(), content_type="image/png")]},
    ),
    Case(
        "hashbanks-import",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: w.bank_args(),
        data=lambda w: {"hash_list": SimpleUploadedFile("l.txt", b"0f" * 32 + b",90,note")},
    ),
    Case("hashbanks-export", "get", VIEWER, (200,), args=lambda w, user: w.bank_args()),
    Case(
        "hashbanks-remove-hash",
        "post",
        MANAGER,
        (302,),
        args=lambda w, user: [w.bank.pk, w.bank.hashes.get().pk],
    ),
    Case(
        "hashbanks-add",
        "post",
        ANNOTATOR,
        (302,),
        data=lambda w: {"bank_item": w.bank_item, "bank": w.bank.pk},
    ),
    # Suspected label errors (quality/)
    Case("quality-label-errors", "get", VIEWER, (200,), args=lambda w, user: [w.adapter.pk]),
    Case("quality-label-errors-start", "post", ANNOTATOR, (302,), args=lambda w, user: [w.adapter.pk]),
    Case("quality-suspect-fix", "post", ANNOTATOR, (302,), args=lambda w, user: [w.suspect.pk]),
    Case("quality-suspect-undo", "post", ANNOTATOR, (302,), args=lambda w, user: [w.suspect.pk]),
    # Pre-labeling (quality/): the status fragment, start with the base model, accept suggestions.
    Case("quality-prelabel", "get", VIEWER, (200,), args=lambda w, user: [w.adapter.pk]),
    Case(
        "quality-prelabel-start",
        "post",
        ANNOTATOR,
        (302,),
        args=lambda w, user: [w.adapter.pk],
        data=lambda w: {"source": ""},
    ),
    Case(
        "quality-suggestions-accept",
        "post",
        ANNOTATOR,
        (302,),
        args=lambda w, user: [w.adapter.pk],
        data=lambda w: {"min_confidence": "90"},
    ),
    # Dataset snapshots (quality/)
    Case(
        "quality-compare",
        "get",
        VIEWER,
        (200,),
        args=lambda w, user: [w.trained.pk],
        query=lambda w: {"a": w.trained.pk, "b": w.retrained.pk},
    ),
    Case(
        "quality-compare-diff",
        "get",
        VIEWER,
        (200,),
        args=lambda w, user: [w.trained.pk, w.retrained.pk],
    ),
    Case("quality-frozen-manifest", "get", VIEWER, (200,), args=lambda w, user: [w.trained.pk]),
    # Too few verified predictions to train: the manager gets the form back with the reason.
    Case(
        "verify-train",
        "post",
        MANAGER,
        (200,),
        args=lambda w, user: [w.job.pk],
        data=lambda w: {
            "confidence_threshold": "50",
            "encryption": "default",
            "project_choice": "new",
            "project_name": "from-verify",
            "adapter_name": "verified",
            "test_data": "autosplit",
        },
    ),
]

# Open to anyone by design, or answered by the API's signature check instead of the login page.
# Sign-in with OpenID Connect: to the provider and back (tests/console/test_oidc.py).
PUBLIC = {"login", "console-healthz", "oidc_authentication_init", "oidc_authentication_callback"}
API = {"api-rekognition", "api-rekognition-noslash"}  # the API matrix below
ADMIN_SITE = "admin:"  # Django's admin: staff only (test_the_admin_is_for_staff_only)


def test_the_table_covers_every_url_name():
    covered = {case.name for case in CASES} | PUBLIC | API
    missing = [name for name in URL_NAMES if name not in covered and not name.startswith(ADMIN_SITE)]
    assert not missing, f"URL names with no row in the roles table: {missing}"
    unknown = {case.name for case in CASES} - set(URL_NAMES)
    assert not unknown, f"rows for URL names that no longer exist: {unknown}"


def test_every_role_has_a_place_in_the_order():
    assert set(ORDER) == set(Profile.Role.values)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Five users per test: a fast hasher keeps the matrix quick (no test here checks passwords)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def users(django_user_model, owner, annotator, viewer):
    admin = make_user(django_user_model, "admin-role", ADMIN)  # the admin role, not a superuser
    return {VIEWER: viewer, ANNOTATOR: annotator, MANAGER: owner, ADMIN: admin}


def call(client, case: Case, world: World, user):
    url = reverse(case.name, args=case.args(world, user))
    query = case.query(world)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return getattr(client, case.method)(url, case.data(world), **case.headers)


def prepare(case: Case, world: World) -> None:
    """Make the objects a case acts on, before a snapshot is taken."""
    case.args(world, None), case.data(world), case.query(world)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case,role",
    [(case, role) for case in CASES for role in dict.fromkeys([case.role, ADMIN])],
    ids=lambda value: value.id if isinstance(value, Case) else value,
)
def test_the_allowed_role_gets_the_page_or_action(client, users, case, role):
    world = World(users[MANAGER])
    client.force_login(users[role])
    response = call(client, case, world, users[role])
    assert response.status_code in case.ok, (case.id, role, response.status_code)
    if response.status_code == 302:
        assert "/login/" not in response["Location"] or case.name == "logout"


@pytest.mark.django_db
@pytest.mark.parametrize("case", [c for c in CASES if c.role != VIEWER], ids=lambda c: c.id)
def test_a_lower_role_is_refused_and_changes_nothing(client, users, own_storage, case):
    world = World(users[MANAGER])
    prepare(case, world)
    for role in ORDER[: ORDER.index(case.role)]:
        client.force_login(users[role])
        before = Snapshot(own_storage)
        response = call(client, case, world, users[role])
        assert response.status_code == 403, (case.id, role, response.status_code)
        before.assert_unchanged(allow_rows={"sessions.Session"})


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_an_anonymous_user_is_sent_to_the_login_page(client, users, own_storage, case):
    world = World(users[MANAGER])
    prepare(case, world)
    before = Snapshot(own_storage)
    response = call(client, case, world, None)
    assert response.status_code == 302, (case.id, response.status_code)
    assert response["Location"].startswith(reverse("login")), response["Location"]
    before.assert_unchanged()


@pytest.mark.django_db
@pytest.mark.parametrize("case", [c for c in CASES if c.name != "logout"], ids=lambda c: c.id)
def test_every_page_asks_the_access_helper(client, users, monkeypatch, case):
    """Each view decides through console.access: with the helper saying no, every page is a 403.

    (Django's own logout view only ends the caller's session.)
    """
    from django.core.exceptions import PermissionDenied

    from console import access

    world = World(users[MANAGER])
    prepare(case, world)
    asked = []

    def refuse(user, role):
        asked.append(role)
        raise PermissionDenied(f"This needs the {role} role.")

    monkeypatch.setattr(access, "require_role", refuse)
    client.force_login(users[ADMIN])
    response = call(client, case, world, users[ADMIN])
    assert response.status_code == 403 and asked, (case.id, response.status_code)
    assert asked[0] == case.role, f"{case.id} asked for {asked[0]}, the table says {case.role}"


@pytest.mark.django_db
def test_the_admin_is_for_staff_only(client, users, staff):
    audit = AuditEntry.objects.create(action="project.create", object_type="projects.project", object_id="1")
    pages = [
        reverse("admin:index"),
        reverse("admin:console_auditentry_changelist"),
        reverse("admin:console_auditentry_change", args=[audit.pk]),
        reverse("admin:console_profile_changelist"),
    ]
    for user in [None, *users.values()]:  # the admin role is not staff: the admin site is for staff
        client.logout()
        if user:
            client.force_login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"], (user, url)
    client.force_login(staff)
    for url in pages:
        assert client.get(url).status_code == 200, url


# ---------------------------------------------------------------- the API: a key acts as its owner


READS = ("Describe", "List", "Get", "Detect")
WRITES = ("Create", "Delete", "Start", "Tag", "Untag")


def _project_arn(ctx) -> str:
    return ctx.project.arn


def _version_params(ctx) -> dict:
    manifest = put_training_manifest("roles-api", count=16)
    return {
        "ProjectArn": ctx.project.arn,
        "VersionName": "by-key",
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "out/"},
        "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": manifest}}]},
        "TestingData": {"AutoCreate": True},
    }


def _job_params(ctx) -> dict:
    image = put("roles-api/job.jpg", jpeg(5))
    manifest = put(
        "roles-api/job.manifest",
        manifests.write_bulk_input([f"s3://{image['Bucket']}/{image['Name']}"]).encode(),
    )
    return {
        "JobName": "by-key",
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 50}},
        "Input": {"S3Object": manifest},
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "out/"},
    }


# Each operation: (boto3 method, parameters for a request that succeeds with the right role).
API_CASES = {
    "DetectModerationLabels": ("detect_moderation_labels", lambda ctx: {"Image": {"Bytes": jpeg(3)}}),
    "DescribeProjects": ("describe_projects", lambda ctx: {"Features": ["CONTENT_MODERATION"]}),
    "DescribeProjectVersions": ("describe_project_versions", lambda ctx: {"ProjectArn": _project_arn(ctx)}),
    "GetMediaAnalysisJob": ("get_media_analysis_job", lambda ctx: {"JobId": str(ctx.job.job_id)}),
    "ListMediaAnalysisJobs": ("list_media_analysis_jobs", lambda ctx: {}),
    "ListTagsForResource": ("list_tags_for_resource", lambda ctx: {"ResourceArn": _project_arn(ctx)}),
    "CreateProject": (
        "create_project",
        lambda ctx: {"ProjectName": "by-key", "Feature": "CONTENT_MODERATION"},
    ),
    "DeleteProject": ("delete_project", lambda ctx: {"ProjectArn": ctx.empty_project.arn}),
    "CreateProjectVersion": ("create_project_version", _version_params),
    "DeleteProjectVersion": ("delete_project_version", lambda ctx: {"ProjectVersionArn": ctx.adapter.arn}),
    "StartMediaAnalysisJob": ("start_media_analysis_job", _job_params),
    "TagResource": ("tag_resource", lambda ctx: {"ResourceArn": _project_arn(ctx), "Tags": {"k": "v"}}),
    "UntagResource": ("untag_resource", lambda ctx: {"ResourceArn": _project_arn(ctx), "TagKeys": ["team"]}),
}


def is_read(operation: str) -> bool:
    return operation.startswith(READS)


def test_the_api_table_covers_every_operation_and_each_is_a_read_or_a_write():
    assert set(API_CASES) == set(OPERATIONS)
    for operation in OPERATIONS:
        assert operation.startswith(READS) != operation.startswith(WRITES), operation


class ApiWorld:
    def __init__(self, owner):
        self.owner = owner

    @cached_property
    def project(self) -> Project:
        project = project_services.create_project(user=self.owner, name="api-roles", tags={"team": "ts"})
        return project

    @cached_property
    def empty_project(self) -> Project:
        return project_services.create_project(user=self.owner, name="api-roles-empty")

    @cached_property
    def adapter(self) -> Adapter:
        return adapter_services.create_adapter(user=self.owner, project=self.project, name="draft")

    @cached_property
    def job(self) -> BulkAnalysisJob:
        return finished_job(self.owner, [{"Alcohol": 80.0}], name="api-done")


def api_snapshot() -> dict:
    return {
        "projects": sorted(Project.objects.values_list("name", "tags")),
        "adapters": sorted(Adapter.objects.values_list("name", "status")),
        "jobs": BulkAnalysisJob.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", sorted(API_CASES))
def test_an_api_key_acts_with_its_owners_role(live_server, users, operation):
    method, params = API_CASES[operation]
    world = ApiWorld(users[MANAGER])
    request = params(world)
    clients = {}
    for role in (VIEWER, ANNOTATOR, MANAGER, ADMIN):
        key, secret = create_api_key(user=users[role])
        clients[role] = make_client(live_server.url, key.access_key_id, secret)
    if is_read(operation):
        for role, rek in clients.items():
            answer = getattr(rek, method)(**request)
            assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, (operation, role)
        return
    for role in (VIEWER, ANNOTATOR):  # below manager: refused, and nothing changes
        before = api_snapshot()
        with pytest.raises(ClientError) as excinfo:
            getattr(clients[role], method)(**request)
        error = excinfo.value.response["Error"]
        assert error["Code"] == "AccessDeniedException", (operation, role, error)
        assert "manager role" in error["Message"], error["Message"]
        assert api_snapshot() == before, (operation, role)
    answer = getattr(clients[MANAGER], method)(**request)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    entries = list(AuditEntry.objects.filter(user=users[MANAGER]).values_list("action", flat=True))
    assert entries, f"{operation} by a manager's key recorded no audit entry"


@pytest.mark.django_db(transaction=True)
def test_a_key_follows_its_owners_role_when_the_role_changes(live_server, viewer):
    key, secret = create_api_key(user=viewer)
    rek = make_client(live_server.url, key.access_key_id, secret)
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="promoted", Feature="CONTENT_MODERATION")
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"

    Profile.objects.filter(user=viewer).update(role=MANAGER)
    assert rek.create_project(ProjectName="promoted", Feature="CONTENT_MODERATION")["ProjectArn"]

    Profile.objects.filter(user=viewer).update(role=VIEWER)
    with pytest.raises(ClientError) as excinfo:
        rek.delete_project(ProjectArn=Project.objects.get(name="promoted").arn)
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
    assert ApiKey.objects.get(pk=key.pk).last_used_at <= timezone.now()
