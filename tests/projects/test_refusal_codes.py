"""The services' refusals carry the code the compatible API maps onto AWS's error."""

import pytest
from django.core.exceptions import ValidationError

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import Adapter
from projects import services
from tests.projects.conftest import jpeg


def codes(refused) -> set[str]:
    return {error.code for error in refused.value.error_list}


@pytest.mark.django_db
def test_a_taken_name_is_exists(owner, adapter):
    with pytest.raises(ValidationError) as refused:
        services.create_project(user=owner, name="policy")
    assert codes(refused) == {"exists"}
    with pytest.raises(ValidationError) as refused:
        adapter_services.create_adapter(user=owner, project=adapter.project, name="first")
    assert codes(refused) == {"exists"}


@pytest.mark.django_db
def test_a_project_with_adapters_and_a_frozen_dataset_are_in_use(owner, adapter):
    with pytest.raises(ValidationError) as refused:
        services.delete_project(user=owner, project=adapter.project)
    assert codes(refused) == {"in_use"}
    Adapter.objects.filter(pk=adapter.pk).update(status=Adapter.Status.TRAINING_COMPLETED)
    adapter.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        datasets.import_files(user=owner, adapter=adapter, files=[("a.jpg", jpeg(1))])
    assert codes(refused) == {"in_use"}


@pytest.mark.django_db
def test_a_dataset_that_cannot_train_is_not_ready(owner, adapter):
    with pytest.raises(ValidationError) as refused:
        adapter_services.start_training(user=owner, adapter=adapter)
    assert codes(refused) == {"not_ready"}
