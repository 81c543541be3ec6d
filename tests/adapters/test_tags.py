"""Tags of projects and adapters through adapters.services (what TagResource and UntagResource do)."""

import pytest
from django.core.exceptions import ValidationError

from adapters import services
from console.models import AuditEntry


@pytest.mark.django_db
def test_it_adds_tags_over_the_ones_an_adapter_has(owner, adapter):
    adapter.tags = {"team": "a", "tier": "1"}
    adapter.save(update_fields=["tags"])
    assert services.add_tags(user=owner, obj=adapter, tags={"team": "b", "env": "prod"}) == {
        "team": "b",
        "tier": "1",
        "env": "prod",
    }
    adapter.refresh_from_db()
    assert adapter.tags == {"team": "b", "tier": "1", "env": "prod"}
    entry = AuditEntry.objects.get(action="tags.add")
    assert entry.project_name == adapter.project.name and entry.detail == {"keys": ["env", "team"]}


@pytest.mark.django_db
def test_it_refuses_more_than_200_tags_with_the_limit_code(owner, project):
    project.tags = {f"k{i}": "v" for i in range(199)}
    project.save(update_fields=["tags"])
    with pytest.raises(ValidationError) as refused:
        services.add_tags(user=owner, obj=project, tags={"x": "1", "y": "2"})
    assert refused.value.code == "limit" and "this would make 201" in refused.value.messages[0]
    with pytest.raises(ValidationError) as invalid:
        services.add_tags(user=owner, obj=project, tags={"aws:x": "1"})
    assert invalid.value.code != "limit"
    project.refresh_from_db()
    assert len(project.tags) == 199


@pytest.mark.django_db
def test_it_removes_tags_by_key_and_files_a_projects_entry_under_it(owner, project):
    project.tags = {"team": "a", "tier": "1"}
    project.save(update_fields=["tags"])
    assert services.remove_tags(user=owner, obj=project, keys=["tier", "absent"]) == {"team": "a"}
    project.refresh_from_db()
    assert project.tags == {"team": "a"}
    entry = AuditEntry.objects.get(action="tags.remove")
    assert entry.project_id == project.pk and entry.detail == {"keys": ["absent", "tier"]}
