"""The suite runs on the servers its environment names (scripts/test-stack's second run: PostgreSQL,
Redis and S3), not silently on the embedded defaults."""

import os

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from console.celery import app
from console.lib import storage


@pytest.mark.django_db
def test_it_uses_the_database_of_database_url():
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_it_stores_files_where_storage_backend_says():
    name = storage.save("stack-check/hello.txt", b"hello")
    try:
        with default_storage.open(name, "rb") as fh:
            assert fh.read() == b"hello"
        if os.environ.get("STORAGE_BACKEND") == "s3":
            import boto3

            assert settings.STORAGE_BUCKET == os.environ["AWS_STORAGE_BUCKET_NAME"]
            s3 = boto3.client(
                "s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL, region_name=settings.AWS_REGION
            )
            assert s3.get_object(Bucket=settings.STORAGE_BUCKET, Key=name)["Body"].read() == b"hello"
        else:
            assert settings.STORAGE_BUCKET == settings.LOCAL_BUCKET
            assert (settings.MEDIA_ROOT / name).read_bytes() == b"hello"
    finally:
        default_storage.delete(name)


def test_it_queues_tasks_on_the_broker_of_celery_broker_url():
    url = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    assert app.conf.broker_url == url
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.transport_cls == url.split("://", 1)[0]
