"""SigV4: every request is signed with a console API key; AWS's errors for every failure; throttling."""

import datetime as dt
import json
import time
from unittest import mock

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from django.test import override_settings

from rekognition_api.keys import create_api_key, revoke_api_key
from rekognition_api.models import ApiKey
from tests.api.conftest import make_client

pytestmark = pytest.mark.django_db(transaction=True)

TARGET = "RekognitionService.DescribeProjects"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


def signed(
    url, key_id, secret, *, body=b'{"Features": ["CONTENT_MODERATION"]}', target=TARGET, service="rekognition"
):
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(key_id, secret), service, "us-east-1").add_auth(request)
    return request


def send(request):
    return requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=30)


def test_it_answers_a_signed_request(live_server, owner_key):
    key, secret = owner_key
    response = send(signed(live_server.url + "/rekognition/", key.access_key_id, secret))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.json() == {"ProjectDescriptions": []}
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_it_answers_without_the_trailing_slash(live_server, owner_key):
    key, secret = owner_key
    response = send(signed(live_server.url + "/rekognition", key.access_key_id, secret))
    assert response.status_code == 200, response.content
    assert response.json() == {"ProjectDescriptions": []}


def test_it_refuses_a_request_without_a_signature(live_server):
    response = requests.post(
        live_server.url + "/rekognition/",
        data=b"{}",
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
        timeout=30,
    )
    assert response.status_code == 403
    assert response.json()["__type"] == "MissingAuthenticationTokenException"
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_it_refuses_a_wrong_secret(live_server, owner_key):
    key, _ = owner_key
    rek = make_client(live_server.url, key.access_key_id, "not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        rek.describe_projects(Features=["CONTENT_MODERATION"])
    assert code_of(excinfo) == ("InvalidSignatureException", 400)
    assert "signature" in excinfo.value.response["Error"]["Message"]


def test_it_refuses_an_unknown_or_revoked_key(live_server, owner, owner_key):
    rek = make_client(live_server.url, "AKIAUNKNOWNKEY000000", "secret")
    with pytest.raises(ClientError) as excinfo:
        rek.describe_projects(Features=["CONTENT_MODERATION"])
    assert code_of(excinfo) == ("UnrecognizedClientException", 400)
    key, secret = owner_key
    rek = make_client(live_server.url, key.access_key_id, secret)
    rek.describe_projects(Features=["CONTENT_MODERATION"])
    assert revoke_api_key(user=owner, key=key)
    with pytest.raises(ClientError) as excinfo:
        rek.describe_projects(Features=["CONTENT_MODERATION"])
    assert code_of(excinfo) == ("UnrecognizedClientException", 400)


def test_it_refuses_a_tampered_body_and_another_service(live_server, owner_key):
    key, secret = owner_key
    request = signed(live_server.url + "/rekognition/", key.access_key_id, secret)
    response = requests.post(
        request.url, data=b'{"Features": ["CUSTOM_LABELS"]}', headers=dict(request.headers), timeout=30
    )
    assert (response.status_code, response.json()["__type"]) == (400, "InvalidSignatureException")
    response = send(signed(live_server.url + "/rekognition/", key.access_key_id, secret, service="s3"))
    assert response.json()["__type"] == "InvalidSignatureException"
    assert "rekognition" in response.json()["Message"]


def test_it_refuses_an_expired_signature(live_server, owner_key):
    key, secret = owner_key
    rek = make_client(live_server.url, key.access_key_id, secret)
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=6)
    with mock.patch("botocore.auth.get_current_datetime", return_value=old):
        with pytest.raises(ClientError) as excinfo:
            rek.describe_projects(Features=["CONTENT_MODERATION"])
    assert code_of(excinfo) == ("InvalidSignatureException", 400)
    assert excinfo.value.response["Error"]["Message"].startswith("Signature expired")
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=6)
    with mock.patch("botocore.auth.get_current_datetime", return_value=future):
        with pytest.raises(ClientError) as excinfo:
            rek.describe_projects(Features=["CONTENT_MODERATION"])
    assert code_of(excinfo)[0] == "InvalidSignatureException"
    # Within the window is fine.
    recent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=4)
    with mock.patch("botocore.auth.get_current_datetime", return_value=recent):
        rek.describe_projects(Features=["CONTENT_MODERATION"])


def test_it_answers_unknown_operations_as_aws_does(live_server, owner_key):
    key, secret = owner_key
    for target in (
        "RekognitionService.StartProjectVersion",
        "RekognitionService.Nope",
        "Other.DescribeProjects",
    ):
        response = send(signed(live_server.url + "/rekognition/", key.access_key_id, secret, target=target))
        assert (response.status_code, response.json()["__type"]) == (400, "UnknownOperationException"), target
    rek = make_client(live_server.url, key.access_key_id, secret)
    with pytest.raises(ClientError) as excinfo:
        rek.detect_labels(Image={"Bytes": b"x"})
    assert code_of(excinfo) == ("UnknownOperationException", 400)
    response = send(signed(live_server.url + "/rekognition/", key.access_key_id, secret, body=b"{not json"))
    assert response.json()["__type"] == "SerializationException"


def test_it_throttles_each_key(live_server, owner, owner_key):
    if time.time() % 60 > 50:  # keep the three calls inside one minute window
        time.sleep(61 - time.time() % 60)
    key, secret = owner_key
    rek = make_client(live_server.url, key.access_key_id, secret)
    other_key, other_secret = create_api_key(user=owner)
    other = make_client(live_server.url, other_key.access_key_id, other_secret)
    with override_settings(API_RATE_LIMIT_PER_MINUTE=3):
        for _ in range(3):
            rek.describe_projects(Features=["CONTENT_MODERATION"])
        with pytest.raises(ClientError) as excinfo:
            rek.describe_projects(Features=["CONTENT_MODERATION"])
        assert code_of(excinfo) == ("ThrottlingException", 400)
        other.describe_projects(Features=["CONTENT_MODERATION"])  # another key has its own budget


def test_the_secret_is_stored_encrypted(owner_key):
    key, secret = owner_key
    row = ApiKey.objects.get(pk=key.pk)
    assert secret.encode() not in bytes(row.encrypted_secret)
    assert row.secret == secret
    assert json.dumps(secret)  # plain text for the person, once
