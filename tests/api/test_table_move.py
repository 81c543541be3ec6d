"""The API's tables moved from the console app to rekognition_api: rows written before the move survive it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("console", "0004_viewer_by_default")]
AFTER = [("console", "0005_api_models_moved"), ("rekognition_api", "0002_rename_tables")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_api_keys_and_requests_survive_the_move(django_user_model):
    user = django_user_model.objects.create_user("keeper")
    old = _migrate(BEFORE)
    old.get_model("console", "ApiKey").objects.create(
        user_id=user.pk, access_key_id="AKIAKEPT", encrypted_secret=b"x"
    )
    old.get_model("console", "ApiRequest").objects.create(
        user_id=user.pk, operation="StartMediaAnalysisJob", params_sha256="0" * 64, resource_id="job-1"
    )
    try:
        new = _migrate(AFTER)
        assert list(
            new.get_model("rekognition_api", "ApiKey").objects.values_list("access_key_id", "user_id")
        ) == [("AKIAKEPT", user.pk)]
        assert new.get_model("rekognition_api", "ApiRequest").objects.get().resource_id == "job-1"
        assert "rekognition_api_apikey" in connection.introspection.table_names()
        assert "console_apikey" not in connection.introspection.table_names()
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
