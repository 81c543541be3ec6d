import pytest
from botocore.exceptions import ClientError

from adapters.models import Adapter
from console.models import AuditEntry
from projects.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_it_creates_a_project_that_the_console_lists(rek, owner_client):
    arn = rek.create_project(ProjectName="api-proj", Feature="CONTENT_MODERATION", AutoUpdate="ENABLED")[
        "ProjectArn"
    ]
    project = Project.objects.get(name="api-proj")
    assert project.arn == arn and project.auto_update
    assert AuditEntry.objects.filter(action="project.create", object_id=str(project.pk)).exists()
    assert b"api-proj" in owner_client.get("/").content


def test_it_describes_moderation_projects_only_when_the_feature_is_asked_for(rek, owner):
    from projects.services import create_project

    made = create_project(user=owner, name="console-made")
    # AWS's default filter is CUSTOM_LABELS: moderation projects are not listed without Features.
    assert rek.describe_projects()["ProjectDescriptions"] == []
    found = rek.describe_projects(Features=["CONTENT_MODERATION"])["ProjectDescriptions"]
    assert [p["ProjectArn"] for p in found] == [made.arn]
    assert found[0]["Status"] == "CREATED"
    assert found[0]["Feature"] == "CONTENT_MODERATION"
    assert found[0]["AutoUpdate"] == "ENABLED"
    assert abs(found[0]["CreationTimestamp"].timestamp() - made.created_at.timestamp()) < 1


def test_it_filters_projects_by_name(rek):
    for name in ("a1", "b2", "c3"):
        rek.create_project(ProjectName=name, Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")
    found = rek.describe_projects(Features=["CONTENT_MODERATION"], ProjectNames=["a1", "c3"])
    assert sorted(p["ProjectArn"].split("/")[1] for p in found["ProjectDescriptions"]) == ["a1", "c3"]


def test_it_pages_projects(rek):
    for i in range(5):
        rek.create_project(ProjectName=f"p{i}", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")
    first = rek.describe_projects(Features=["CONTENT_MODERATION"], MaxResults=2)
    assert len(first["ProjectDescriptions"]) == 2 and first["NextToken"]
    paginator = rek.get_paginator("describe_projects")
    pages = list(paginator.paginate(Features=["CONTENT_MODERATION"], PaginationConfig={"PageSize": 2}))
    assert [len(p["ProjectDescriptions"]) for p in pages] == [2, 2, 1]
    names = [d["ProjectArn"].split("/")[1] for p in pages for d in p["ProjectDescriptions"]]
    assert names == ["p4", "p3", "p2", "p1", "p0"]
    with pytest.raises(ClientError) as excinfo:
        rek.describe_projects(Features=["CONTENT_MODERATION"], NextToken="not-a-token")
    assert error_of(excinfo)[0] == "InvalidPaginationTokenException"
    # A token is bound to its filters.
    with pytest.raises(ClientError) as excinfo:
        rek.describe_projects(
            Features=["CONTENT_MODERATION"], ProjectNames=["p1"], NextToken=first["NextToken"]
        )
    assert error_of(excinfo)[0] == "InvalidPaginationTokenException"


def test_it_refuses_bad_project_input_naming_the_field(rek):
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="bad name!", Feature="CONTENT_MODERATION")
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "ProjectName" in message
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="x" * 256, Feature="CONTENT_MODERATION")
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="ok", Feature="NOT_AN_ENUM")
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "Feature" in message
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="ok")  # CUSTOM_LABELS by default
    code, message = error_of(excinfo)
    assert code == "InvalidParameterException" and "Feature" in message
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="ok", Feature="CONTENT_MODERATION", Tags={"aws:x": "1"})
    code, message = error_of(excinfo)
    assert code == "InvalidParameterException" and "aws:" in message
    with pytest.raises(ClientError) as excinfo:
        rek.describe_projects(Features=["CONTENT_MODERATION"], MaxResults=101)
    assert error_of(excinfo)[0] == "ValidationException"
    assert not Project.objects.exists()


def test_it_refuses_a_duplicate_project_name(rek):
    rek.create_project(ProjectName="dup", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")
    with pytest.raises(ClientError) as excinfo:
        rek.create_project(ProjectName="dup", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")
    assert error_of(excinfo)[0] == "ResourceInUseException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_it_deletes_an_empty_project_and_refuses_one_with_adapters(rek, owner):
    from adapters.services import create_adapter

    arn = rek.create_project(ProjectName="del", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")[
        "ProjectArn"
    ]
    adapter = create_adapter(user=owner, project=Project.objects.get(arn=arn), name="draft")
    with pytest.raises(ClientError) as excinfo:
        rek.delete_project(ProjectArn=arn)
    assert error_of(excinfo)[0] == "ResourceInUseException"
    Adapter.objects.filter(pk=adapter.pk).delete()
    assert rek.delete_project(ProjectArn=arn)["Status"] == "DELETING"
    assert not Project.objects.filter(arn=arn).exists()
    with pytest.raises(ClientError) as excinfo:
        rek.delete_project(ProjectArn=arn)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_it_lets_a_viewer_key_read_but_not_create(viewer_rek):
    assert viewer_rek.describe_projects(Features=["CONTENT_MODERATION"])["ProjectDescriptions"] == []
    with pytest.raises(ClientError) as excinfo:
        viewer_rek.create_project(ProjectName="nope", Feature="CONTENT_MODERATION")
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert not Project.objects.exists()


def test_it_tags_projects_and_adapters(rek, owner):
    from adapters.services import create_adapter

    arn = rek.create_project(
        ProjectName="tagged", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED", Tags={"team": "ts"}
    )["ProjectArn"]
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "ts"}
    rek.tag_resource(ResourceArn=arn, Tags={"env": "prod", "team": "safety"})
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "safety", "env": "prod"}
    rek.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert Project.objects.get(arn=arn).tags == {"env": "prod"}
    adapter = create_adapter(user=owner, project=Project.objects.get(arn=arn), name="a")
    rek.tag_resource(ResourceArn=adapter.arn, Tags={"k": "v"})
    assert rek.list_tags_for_resource(ResourceArn=adapter.arn)["Tags"] == {"k": "v"}
    assert AuditEntry.objects.filter(action="tags.add").count() == 2
    with pytest.raises(ClientError) as excinfo:
        rek.tag_resource(ResourceArn=arn, Tags={"aws:reserved": "x"})
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        rek.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(200)})
    assert error_of(excinfo)[0] == "ServiceQuotaExceededException"
    missing = arn.rsplit("/", 1)[0] + "/1"
    with pytest.raises(ClientError) as excinfo:
        rek.list_tags_for_resource(ResourceArn=missing)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
