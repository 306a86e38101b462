"""registry.remote.fetch: single-request manifest and verified blob reads by URL (the mirror's
entry points), against the fault-injecting fixture registry on loopback."""

from __future__ import annotations

import hashlib

import pytest

from registry.errors import BlobNotFound, DigestMismatch, Unauthorized
from registry.oci.digest import Digest
from registry.remote.auth import Authenticator
from registry.remote.fetch import BlobSink, RegistryAnswered, fetch_blob, fetch_manifest
from registry.remote.options import TransferOptions
from registry.remote.transport import Transport
from tests.remote.helpers import weights
from tests.support.upstream import DOCKER_MANIFEST, Faults, Upstream

OPTIONS = TransferOptions(insecure=True, trust_env=False)
SCOPE = "repository:m/r:pull"


class MemorySink(BlobSink):
    """Keeps the bytes in memory; records the announced length."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.length: int | None = -2

    async def start(self, length: int | None) -> None:
        self.length = length

    async def write(self, offset: int, chunks: list[bytes]) -> None:
        assert offset == len(self.data)
        for chunk in chunks:
            self.data += chunk

    def read_at(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset : offset + size])


def _blob_url(upstream: Upstream, digest: str) -> str:
    return f"http://{upstream.host}/v2/m/r/blobs/{digest}"


async def test_fetch_manifest_exact_bytes_and_type(upstream: Upstream) -> None:
    raw = upstream.add_model("m/r", "v1", [("application/x-layer", b"layer")])
    upstream.faults.manifest_content_type = DOCKER_MANIFEST
    async with Transport(OPTIONS) as t:
        got = await fetch_manifest(
            t, f"http://{upstream.host}/v2/m/r/manifests/v1", scope=SCOPE, max_bytes=None
        )
        missing = await fetch_manifest(
            t, f"http://{upstream.host}/v2/m/r/manifests/nope", scope=SCOPE, max_bytes=1000
        )
    assert got is not None and got.content == raw and got.media_type == DOCKER_MANIFEST
    assert missing is None


async def test_fetch_blob_verified_through_token_and_cdn(upstream: Upstream, cdn: Upstream) -> None:
    data = weights(3 << 20)
    digest = upstream.add_blob("m/r", data)["digest"]
    upstream.faults = Faults(token="secret", redirect_to=f"http://{cdn.host}")
    sink = MemorySink()
    async with Transport(OPTIONS) as t:
        size = await fetch_blob(
            t, _blob_url(upstream, digest), scope=SCOPE, digest=Digest.parse(digest), sink=sink
        )
    assert size == len(data) and bytes(sink.data) == data and sink.length == len(data)
    assert upstream.counters.token_requests == 1
    assert all(auth is None for _, path, auth in cdn.counters.requests if path.startswith("/cdn/"))


async def test_fetch_blob_refuses_wrong_bytes(upstream: Upstream) -> None:
    digest = upstream.add_blob("m/r", weights(1 << 20))["digest"]
    upstream.faults = Faults(wrong_bytes=True)
    async with Transport(OPTIONS) as t:
        with pytest.raises(DigestMismatch):
            await fetch_blob(
                t, _blob_url(upstream, digest), scope=SCOPE, digest=Digest.parse(digest), sink=MemorySink()
            )


async def test_fetch_blob_statuses(upstream: Upstream) -> None:
    digest = upstream.add_blob("m/r", b"x" * 10)["digest"]
    absent = "sha256:" + hashlib.sha256(b"absent").hexdigest()
    upstream.faults = Faults(status_500_times=1)
    async with Transport(OPTIONS) as t:
        with pytest.raises(RegistryAnswered) as answered:
            await fetch_blob(
                t, _blob_url(upstream, digest), scope=SCOPE, digest=Digest.parse(digest), sink=MemorySink()
            )
        with pytest.raises(BlobNotFound):
            await fetch_blob(
                t, _blob_url(upstream, absent), scope=SCOPE, digest=Digest.parse(absent), sink=MemorySink()
            )
    assert answered.value.status == 500


async def test_same_host_realm_only_never_contacts_another_host() -> None:
    fetched: list[str] = []

    async def fetch(url: str, headers: dict[str, str]) -> tuple[int, object]:
        fetched.append(url)
        return 200, {"token": "t"}

    auth = Authenticator(None, fetch, same_host_realm_only=True, remember_refusals=False)
    with pytest.raises(Unauthorized):
        await auth.answer("127.0.0.1:1", SCOPE, 'Bearer realm="http://127.0.0.2:2/token"')
    await auth.answer("127.0.0.1:1", SCOPE, 'Bearer realm="http://127.0.0.1:1/token"')
    assert fetched == [
        f"http://127.0.0.1:1/token?service=&scope={SCOPE.replace(':', '%3A').replace('/', '%2F')}"
    ]
    assert auth.header_for("127.0.0.1:1", SCOPE) == "Bearer t"


@pytest.mark.parametrize("remember", [True, False])
async def test_refused_token_asked_again_only_when_not_remembered(remember: bool) -> None:
    answers = [(401, None), (200, {"token": "t"})]

    async def fetch(url: str, headers: dict[str, str]) -> tuple[int, object]:
        return answers.pop(0)

    auth = Authenticator(None, fetch, remember_refusals=remember)
    challenge = 'Bearer realm="http://127.0.0.1:1/token"'
    with pytest.raises(Unauthorized):
        await auth.answer("127.0.0.1:1", SCOPE, challenge)
    if remember:
        with pytest.raises(Unauthorized):
            await auth.answer("127.0.0.1:1", SCOPE, challenge)
        assert len(answers) == 1
    else:
        await auth.answer("127.0.0.1:1", SCOPE, challenge)
        assert auth.header_for("127.0.0.1:1", SCOPE) == "Bearer t"
