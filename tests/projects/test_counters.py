"""The dataset counters (adapters.models.DatasetCount) the labeling page reads instead of counting rows.

After any sequence of imports, label changes, copies, refused changes and deletes, every
adapter's counters equal a fresh recount of its rows.
"""

import random

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import DatasetCount, Image
from moderation.manifests import ManifestError
from projects import services
from tests.projects.conftest import gt, jpeg, manifest, put

pytestmark = pytest.mark.django_db

LABELS = ["Alcohol", "Violence", "Explicit", "Gambling"]


def assert_counters_exact(adapter) -> None:
    stored = {key: n for key, n in datasets.dataset_counts(adapter).items() if n}
    fresh = datasets.dataset_counts(adapter, fresh=True)
    assert stored == fresh, adapter.name
    assert datasets.dataset_blockers(adapter, counts=stored) == datasets.dataset_blockers(adapter)


def upload(rng, owner, adapter):
    split = rng.choice(["train", "train", "test"])
    files = [(f"u{n}.jpg", jpeg(n)) for n in (rng.randrange(60) for _ in range(rng.randint(1, 4)))]
    datasets.import_files(user=owner, adapter=adapter, files=files, split=split)


def import_manifest(rng, owner, adapter):
    split = rng.choice(["train", "test"])
    lines = []
    for _ in range(rng.randint(1, 4)):
        n = rng.randrange(60)
        uri = put(f"sources/m{n}.jpg", jpeg(1000 + n))
        lines.append(gt(uri, *rng.sample(LABELS, rng.randint(0, 2))))
    if rng.random() < 0.2:
        lines.append("{not json")  # refused whole: nothing may change
    try:
        datasets.import_manifest(
            user=owner, adapter=adapter, data=manifest(*lines), name="m.manifest", split=split
        )
    except ManifestError:
        pass


def relabel(rng, owner, adapter):
    images = list(adapter.images.all())
    if not images:
        return
    chosen = rng.sample(images, rng.randint(1, len(images)))
    labels = rng.sample(LABELS, rng.randint(1, 2))
    kwargs = rng.choice(
        [
            {"add": labels},
            {"remove": labels},
            {"safe": True},
            {"add": labels[:1], "remove": labels[1:]},
            {"safe": True, "add": labels},  # refused: nothing may change
        ]
    )
    # Either the images themselves or a filter, as "all matching" sends it.
    target = (
        chosen
        if rng.random() < 0.5
        else Image.objects.filter(adapter=adapter, label_state=chosen[0].label_state)
    )
    try:
        datasets.set_labels(user=owner, images=target, **kwargs)
    except ValidationError:
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_counters_equal_a_recount_after_random_changes(owner, seed):
    rng = random.Random(seed)
    project = services.create_project(user=owner, name=f"counted-{seed}")
    adapters = [adapter_services.create_adapter(user=owner, project=project, name="a0")]
    for step in range(40):
        adapter = rng.choice(adapters)
        op = rng.choices(["upload", "manifest", "label", "copy", "delete"], weights=[4, 3, 6, 1, 1])[0]
        if op == "upload":
            upload(rng, owner, adapter)
        elif op == "manifest":
            import_manifest(rng, owner, adapter)
        elif op == "label":
            relabel(rng, owner, adapter)
        elif op == "copy":
            copy = adapter_services.create_adapter(user=owner, project=project, name=f"a{step}")
            datasets.copy_dataset(user=owner, source=adapter, target=copy)
            adapters.append(copy)
        elif op == "delete" and len(adapters) > 1:
            adapter_services.delete_adapter(user=owner, adapter=adapter)
            adapters.remove(adapter)
            assert not DatasetCount.objects.filter(adapter_id=adapter.pk).exists()
        for each in adapters:
            assert_counters_exact(each)
    assert DatasetCount.objects.exclude(count=0).exists()  # the sequence did count something


def test_recount_rebuilds_counters_of_rows_written_around_the_services(owner):
    project = services.create_project(user=owner, name="bulk")
    adapter = adapter_services.create_adapter(user=owner, project=project, name="rows")
    datasets.import_files(user=owner, adapter=adapter, files=[("a.jpg", jpeg(1)), ("b.jpg", jpeg(2))])
    Image.objects.filter(adapter=adapter).update(label_state=Image.LabelState.SAFE)  # around the services
    assert datasets.dataset_counts(adapter) != datasets.dataset_counts(adapter, fresh=True)

    DatasetCount.objects.recount(adapter)

    assert datasets.dataset_counts(adapter) == {("train", "state:safe"): 2}


def test_the_labeling_page_counts_from_the_counters_not_the_rows(owner, owner_client):
    project = services.create_project(user=owner, name="facets")
    adapter = adapter_services.create_adapter(user=owner, project=project, name="grid")
    images = datasets.import_files(
        user=owner, adapter=adapter, files=[(f"{i}.jpg", jpeg(i)) for i in range(7)]
    ).added
    datasets.set_labels(user=owner, images=images[:3], add=["Alcohol"])
    datasets.set_labels(user=owner, images=images[2:4], add=["Violence"])
    datasets.set_labels(user=owner, images=images[5:6], safe=True)
    url = f"/projects/{project.pk}/adapters/{adapter.pk}/labels/"
    for state in ("", "unlabeled", "labeled", "safe"):
        for label in ("", "Alcohol", "Violence", "Gambling"):
            with CaptureQueriesContext(connection) as ctx:
                text = owner_client.get(url, {"state": state, "label": label}).content.decode()
            counting = [
                q["sql"]
                for q in ctx.captured_queries
                if "COUNT(" in q["sql"] and "adapters_image" in q["sql"]
            ]
            assert not counting, counting
            matching = Image.objects.filter(adapter=adapter)
            if state == "labeled":
                matching = matching.exclude(label_state="unlabeled")
            elif state:
                matching = matching.filter(label_state=state)
            if label:
                matching = matching.filter(labels__name=label)
            n = matching.count()
            assert f"{n} image{'s' if n != 1 else ''} match" in text, (state, label)
