"""docker-compose.yml, validated by the real Compose v2 binary (no Docker engine needed)."""

import json
import os
import subprocess
from pathlib import Path

import compose
import pytest

ROOT = Path(__file__).resolve().parents[2]
# The binary itself: the package's wrapper script always exits 0.
COMPOSE = Path(compose.__file__).parent / "docker-compose"


def compose_config(*args, file=ROOT / "docker-compose.yml", env=None):
    """`docker compose config`, interpolating from `env` alone (default: nothing set but PATH)."""
    return subprocess.run(
        [str(COMPOSE), "-f", str(file), "--project-directory", str(ROOT), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env if env is not None else {"PATH": os.environ["PATH"]},
    )


@pytest.fixture(scope="module")
def stack():
    result = compose_config("--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_validates_the_compose_file():
    result = compose_config("-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_it_refuses_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("depends_on:", "depends_onn:", 1))
    result = compose_config("-q", file=broken)
    assert result.returncode != 0
    assert "depends_onn" in result.stderr


def test_it_runs_every_part_of_the_production_stack(stack):
    services = stack["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis", "minio", "createbucket"}
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    assert services["beat"]["command"] == ["beat"]
    assert [(p["published"], p["target"]) for p in services["web"]["ports"]] == [("8000", 8000)]
    for name in ("web", "worker", "beat"):
        assert services[name]["build"]["context"] == str(ROOT)
        assert "/data" in [v["target"] for v in services[name]["volumes"]]
    assert {"console-data", "postgres-data", "redis-data", "minio-data"} <= set(stack["volumes"])
    assert "/var/lib/postgresql/data" in [v["target"] for v in services["db"]["volumes"]]


def test_it_starts_the_web_after_its_servers_and_the_bucket(stack):
    services = stack["services"]
    assert {name: dep["condition"] for name, dep in services["web"]["depends_on"].items()} == {
        "db": "service_healthy",
        "redis": "service_healthy",
        "createbucket": "service_completed_successfully",
    }
    assert services["createbucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing" in " ".join(services["createbucket"]["entrypoint"])
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"


def test_it_configures_the_console_from_the_environment(stack):
    for name in ("web", "worker", "beat"):
        env = stack["services"][name]["environment"]
        assert env["DATABASE_URL"] == "postgres://console:console@db:5432/console"
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["STORAGE_BACKEND"] == "s3"
        assert env["AWS_STORAGE_BUCKET_NAME"] == "console-files"
        assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["AWS_ACCESS_KEY_ID"] == stack["services"]["minio"]["environment"]["MINIO_ROOT_USER"]
        assert (
            env["AWS_SECRET_ACCESS_KEY"] == stack["services"]["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
        )
        assert env["DJANGO_DEBUG"] == "false"
        assert env["MODERATION_BACKEND"] == "local"
        assert env["CONSOLE_API_URL"] == "http://localhost:8000/rekognition/"
    assert stack["services"]["createbucket"]["environment"]["BUCKET"] == "console-files"


def test_it_takes_settings_from_the_callers_environment():
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTGRES_PASSWORD": "s3cret",
        "AWS_STORAGE_BUCKET_NAME": "my-bucket",
        "AWS_S3_ENDPOINT_URL": "",
        "MODERATION_BACKEND": "aws",
        "CONSOLE_PORT": "9000",
    }
    result = compose_config("--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    web = services["web"]["environment"]
    assert web["DATABASE_URL"] == "postgres://console:s3cret@db:5432/console"
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"
    assert web["AWS_STORAGE_BUCKET_NAME"] == "my-bucket"
    assert services["createbucket"]["environment"]["BUCKET"] == "my-bucket"
    assert web["AWS_S3_ENDPOINT_URL"] == ""  # empty: Amazon S3 itself
    assert web["MODERATION_BACKEND"] == "aws"
    assert services["web"]["ports"][0]["published"] == "9000"


def test_it_gives_a_health_check_to_every_service_waited_on(stack):
    services = stack["services"]
    for name, service in services.items():
        for target, dep in service.get("depends_on", {}).items():
            if dep["condition"] == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), f"{name} waits on {target}"
