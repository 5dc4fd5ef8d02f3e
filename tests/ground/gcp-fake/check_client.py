"""Drives the GCP fake with Google's official client (google-cloud-secret-manager, REST transport,
AnonymousCredentials) so the fake answers what the real client expects. Usage:
    check_client.py BASE_URL PROJECT
Exits non-zero (with a traceback) on the first mismatch."""

import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF



def main(base: str, project: str) -> None:
    client = secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(), transport="rest",
        client_options=ClientOptions(api_endpoint=base))
    parent = f"projects/{project}"
    secret = client.create_secret(request={
        "parent": parent, "secret_id": "db",
        "secret": {"replication": {"automatic": {}}, "labels": {"team": "a"}, "annotations": {"owner": "x"}}})
    assert secret.name.endswith("/secrets/db"), secret.name
    assert secret.labels["team"] == "a"
    v1 = client.add_secret_version(request={"parent": secret.name, "payload": {"data": b"one", "data_crc32c": crc32c(b"one")}})
    v2 = client.add_secret_version(request={"parent": secret.name, "payload": {"data": b"two"}})
    assert v1.name.endswith("/versions/1") and v2.name.endswith("/versions/2")
    got = client.access_secret_version(request={"name": f"{parent}/secrets/db/versions/latest"})
    assert got.payload.data == b"two" and got.payload.data_crc32c == crc32c(b"two"), got
    assert client.access_secret_version(request={"name": v1.name}).payload.data == b"one"
    assert client.get_secret(request={"name": f"{parent}/secrets/db"}).annotations["owner"] == "x"
    client.create_secret(request={"parent": parent, "secret_id": "other", "secret": {"replication": {"automatic": {}}}})
    names = [s.name.rsplit("/", 1)[-1] for s in client.list_secrets(request={"parent": parent})]
    assert names == ["db", "other"], names
    labelled = [s.name for s in client.list_secrets(request={"parent": parent, "filter": "labels.team=a"})]
    assert len(labelled) == 1, labelled
    paged = list(client.list_secrets(request={"parent": parent, "page_size": 1}))
    assert len(paged) == 2, paged
    client.disable_secret_version(request={"name": v2.name})
    try:
        client.access_secret_version(request={"name": f"{parent}/secrets/db/versions/latest"})
        raise AssertionError("a disabled latest version must not be accessible")
    except exceptions.BadRequest as e:  # FAILED_PRECONDITION travels as HTTP 400
        assert "DISABLED" in str(e), e
    enabled = [v.name for v in client.list_secret_versions(request={"parent": secret.name, "filter": "state:ENABLED"})]
    assert enabled == [v1.name], enabled
    try:
        client.access_secret_version(request={"name": f"{parent}/secrets/missing/versions/latest"})
        raise AssertionError("missing secret must be NotFound")
    except exceptions.NotFound:
        pass
    try:
        client.create_secret(request={"parent": parent, "secret_id": "db", "secret": {"replication": {"automatic": {}}}})
        raise AssertionError("duplicate create must be AlreadyExists")
    except exceptions.Conflict:
        pass
    client.destroy_secret_version(request={"name": v1.name})
    assert client.get_secret_version(request={"name": v1.name}).state == secretmanager.SecretVersion.State.DESTROYED
    # PushSecret's calls: update labels/annotations (etag-checked), delete with an etag.
    current = client.get_secret(request={"name": f"{parent}/secrets/db"})
    updated = client.update_secret(request={
        "secret": {"name": current.name, "etag": current.etag, "labels": {"managed-by": "external-secrets"},
                   "annotations": {}},
        "update_mask": {"paths": ["labels", "annotations"]}})
    assert dict(updated.labels) == {"managed-by": "external-secrets"}, updated.labels
    assert dict(updated.annotations) == {}, updated.annotations
    assert updated.etag != current.etag
    try:
        client.update_secret(request={"secret": {"name": current.name, "etag": current.etag, "labels": {"x": "y"}},
                                      "update_mask": {"paths": ["labels"]}})
        raise AssertionError("a stale etag must be refused")
    except exceptions.Conflict as e:  # ABORTED travels as HTTP 409
        assert "etag" in str(e), e
    try:
        client.delete_secret(request={"name": current.name, "etag": current.etag})
        raise AssertionError("a delete with a stale etag must be refused")
    except exceptions.Conflict as e:  # ABORTED travels as HTTP 409
        assert "etag" in str(e), e
    client.delete_secret(request={"name": current.name, "etag": updated.etag})
    try:
        client.get_secret(request={"name": current.name})
        raise AssertionError("a deleted secret must be NotFound")
    except exceptions.NotFound:
        pass
    client.delete_secret(request={"name": f"{parent}/secrets/other"})
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
