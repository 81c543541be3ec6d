"""The API keys page, the create_api_key command, and the AWS CLI with a key."""

import io
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from console.models import AuditEntry
from rekognition_api.keys import create_api_key
from rekognition_api.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)
AWS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "aws"


def test_it_shows_a_new_secret_once(owner_client, owner):
    response = owner_client.post("/api-keys/new/", {"name": "ci"})
    assert response.status_code == 302 and response["Location"] == "/api-keys/"
    key = ApiKey.objects.get(user=owner)
    assert key.name == "ci" and key.access_key_id.startswith("AKIA")
    page = owner_client.get("/api-keys/").content.decode()
    shown = re.search(r'id="new-secret-access-key">([^<]+)<', page)[1]
    assert shown == key.secret and len(shown) == 40
    assert key.access_key_id in page
    again = owner_client.get("/api-keys/").content.decode()
    assert key.secret not in again and key.access_key_id in again
    assert AuditEntry.objects.filter(action="apikey.create", object_id=str(key.pk)).exists()


def test_it_revokes_only_my_keys(owner_client, owner, viewer):
    mine, _ = create_api_key(user=owner)
    theirs, _ = create_api_key(user=viewer)
    assert owner_client.get("/api-keys/").content.decode().count("AKIA") == 1
    assert owner_client.post(f"/api-keys/{theirs.pk}/revoke/").status_code == 404
    assert owner_client.post(f"/api-keys/{mine.pk}/revoke/").status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert AuditEntry.objects.filter(action="apikey.revoke", object_id=str(mine.pk)).exists()
    assert "Revoked" in owner_client.get("/api-keys/").content.decode()
    assert owner_client.get(f"/api-keys/{mine.pk}/revoke/").status_code == 405


def test_the_command_prints_a_key_that_works(owner, live_server):
    from tests.api.conftest import make_client

    out = io.StringIO()
    call_command("create_api_key", "owner", "--name", "automation", stdout=out)
    values = dict(line.split("=", 1) for line in out.getvalue().split())
    key = ApiKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    assert key.user == owner and key.name == "automation" and key.secret == values["AWS_SECRET_ACCESS_KEY"]
    rek = make_client(live_server.url, values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"])
    assert rek.describe_projects(Features=["CONTENT_MODERATION"])["ProjectDescriptions"] == []
    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_key", "nobody")


def test_the_aws_cli_works_against_the_console(owner, owner_key, live_server, tmp_path):
    key, secret = owner_key
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key.access_key_id,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_MAX_ATTEMPTS="1",
    )
    endpoint = ["--endpoint-url", live_server.url + "/rekognition/", "--output", "json"]

    def aws(*args):
        return subprocess.run(
            [str(AWS), "rekognition", *args, *endpoint], env=env, capture_output=True, text=True, timeout=120
        )

    made = aws(
        "create-project",
        "--project-name",
        "cli-proj",
        "--feature",
        "CONTENT_MODERATION",
        "--auto-update",
        "ENABLED",
    )
    assert made.returncode == 0, made.stderr
    listed = aws("describe-projects", "--features", "CONTENT_MODERATION")
    assert listed.returncode == 0, listed.stderr
    assert '"ProjectArn"' in listed.stdout and "cli-proj" in listed.stdout
    refused = aws("create-project", "--project-name", "cli-proj", "--feature", "CONTENT_MODERATION")
    assert refused.returncode != 0 and "ResourceInUseException" in refused.stderr
