import pytest
from django.core.exceptions import ValidationError

from adapters.models import Adapter, Image, ImageLabel
from console import arns
from projects.models import Project


@pytest.mark.django_db
def test_projects_and_adapters_get_arns_in_the_aws_format(settings):
    settings.AWS_REGION = "eu-west-1"
    settings.AWS_ACCOUNT_ID = "123456789012"
    project = Project.objects.create(name="p1", arn=Project.build_arn("p1"))
    adapter = Adapter.objects.create(project=project, name="a.v1", arn=Adapter.build_arn("p1", "a.v1"))
    assert arns.PROJECT_ARN_RE.match(project.arn).group(1) == "p1"
    assert project.arn.startswith("arn:aws:rekognition:eu-west-1:123456789012:project/p1/")
    assert arns.VERSION_ARN_RE.match(adapter.arn).groups()[:2] == ("p1", "a.v1")


@pytest.mark.django_db
def test_model_validation_names_the_field():
    project = Project(name="bad name", arn="x")
    with pytest.raises(ValidationError) as exc:
        project.full_clean()
    assert "Project name: may contain only" in str(exc.value)
    adapter = Adapter(
        project=Project.objects.create(name="ok", arn="y"), name="ok", arn="z", confidence_threshold=101
    )
    with pytest.raises(ValidationError) as exc:
        adapter.full_clean()
    assert "Confidence: must be from 0 to 100" in str(exc.value)


@pytest.mark.django_db
def test_unlabeled_safe_and_labeled_are_three_states():
    project = Project.objects.create(name="p", arn="p")
    adapter = Adapter.objects.create(project=project, name="a", arn="a")
    common = dict(adapter=adapter, size=1, format="JPEG", width=100, height=100, source="upload")
    unlabeled = Image.objects.create(file="1.jpg", original_name="1.jpg", sha256="1", **common)
    safe = Image.objects.create(file="2.jpg", original_name="2.jpg", sha256="2", label_state="safe", **common)
    labeled = Image.objects.create(
        file="3.jpg", original_name="3.jpg", sha256="3", label_state="labeled", **common
    )
    ImageLabel.objects.create(image=labeled, name="Alcohol")
    assert list(adapter.images.unlabeled()) == [unlabeled]
    assert set(adapter.images.labeled()) == {safe, labeled}
    assert safe.label_names == [] and labeled.label_names == ["Alcohol"]
    with pytest.raises(ValidationError, match="not a label"):
        ImageLabel(image=labeled, name="Cats").full_clean()


@pytest.mark.django_db
def test_a_guarded_transition_wins_only_once():
    project = Project.objects.create(name="p", arn="p")
    adapter = Adapter.objects.create(project=project, name="a", arn="a")
    other_copy = Adapter.objects.get(pk=adapter.pk)
    assert adapter.transition([Adapter.Status.DRAFT], Adapter.Status.TRAINING_IN_PROGRESS)
    assert not other_copy.transition([Adapter.Status.DRAFT], Adapter.Status.TRAINING_IN_PROGRESS)
    assert Adapter.objects.get(pk=adapter.pk).status == "TRAINING_IN_PROGRESS"
