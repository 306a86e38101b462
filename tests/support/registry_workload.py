"""A randomized, time-bounded registry workload for race and soak tests, and its after-the-fact check.

``Workload.run`` drives several concurrent clients against one or more registry URLs until a
deadline: each pushes images the way real clients do (its blobs in parallel: HEAD a blob and skip it
when present, else sometimes try a cross-repository mount, else upload it; then PUT a manifest and, on
``MANIFEST_BLOB_UNKNOWN``, push again), optionally pulls and deletes what it pushed. Blobs come
partly from a small shared pool, so the same digest is pushed, collected and pushed again by many
clients. Every manifest PUT that returned 201 (and was not deleted by the workload itself) is
recorded; ``verify`` then GETs each of them, and each of its blobs, from every URL and compares the
bytes. A server error (5xx) anywhere is recorded too: it is a failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

__all__ = ["Acked", "Workload"]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Acked:
    """A manifest a registry acknowledged (201)."""

    repo: str
    tag: str
    digest: str
    manifest: bytes
    blobs: tuple[bytes, ...]


@dataclass
class Workload:
    """Clients pushing (and optionally pulling and deleting) against ``push_urls``; see module doc."""

    push_urls: list[str]
    read_urls: list[str]
    clients: int = 8
    seconds: float = 6.0
    repos: int = 3
    deletes: bool = False
    seed: int = field(default_factory=lambda: random.randrange(1 << 30))
    acked: dict[str, Acked] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    deleted: int = 0
    pulls: int = 0

    async def run(self) -> None:
        """Run every client until the deadline (plus the push each is in the middle of)."""
        rng = random.Random(self.seed)
        pool = [os.urandom(rng.randrange(1, 30_000)) for _ in range(6)]
        deadline = time.monotonic() + self.seconds
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await asyncio.gather(
                *(
                    self._client(http, random.Random(rng.random()), i, pool, deadline)
                    for i in range(self.clients)
                )
            )

    async def _client(
        self, http: aiohttp.ClientSession, rng: random.Random, n: int, pool: list[bytes], deadline: float
    ) -> None:
        count = 0
        while time.monotonic() < deadline:
            count += 1
            base = rng.choice(self.push_urls)
            repo = f"race/r{rng.randrange(self.repos)}"
            layers = [
                rng.choice(pool) if rng.random() < 0.5 else os.urandom(rng.randrange(1, 40_000))
                for _ in range(rng.randrange(1, 4))
            ]
            config = b"{}" if rng.random() < 0.5 else json.dumps({"c": rng.random()}).encode()
            await self._push(http, rng, base, repo, f"c{n}-{count}", config, layers)
            if self.pulls_wanted(rng):
                await self._pull_one(http, rng)
            if self.deletes and self.acked and rng.random() < 0.2:
                await self._delete_one(http, rng)

    def pulls_wanted(self, rng: random.Random) -> bool:
        """Pull back a random acknowledged manifest about every other push."""
        return bool(self.acked) and rng.random() < 0.5

    async def _push(
        self,
        http: aiohttp.ClientSession,
        rng: random.Random,
        base: str,
        repo: str,
        tag: str,
        config: bytes,
        layers: list[bytes],
    ) -> None:
        body = _manifest(config, layers)
        for _attempt in range(8):
            blobs = list(dict.fromkeys([config, *layers]))  # in parallel, as docker and ollama do
            pushed = await asyncio.gather(*(self._push_blob(http, rng, base, repo, b) for b in blobs))
            if not all(pushed):
                return
            async with http.put(
                f"{base}/v2/{repo}/manifests/{tag}", data=body, headers={"Content-Type": MANIFEST}
            ) as r:
                text = await r.text()
                if r.status == 201:
                    digest = _sha(body)
                    self.acked[digest] = Acked(repo, tag, digest, body, (config, *layers))
                    return
                if r.status == 400 and "MANIFEST_BLOB_UNKNOWN" in text:
                    self.retries += 1  # a sweep took a blob between its push and the manifest
                    continue
                self.errors.append(f"PUT manifest {repo}:{tag} -> {r.status} {text[:300]}")
                return

    async def _push_blob(
        self, http: aiohttp.ClientSession, rng: random.Random, base: str, repo: str, blob: bytes
    ) -> bool:
        digest = _sha(blob)
        async with http.head(f"{base}/v2/{repo}/blobs/{digest}") as r:
            if r.status == 200:
                return True
        params = {}
        if rng.random() < 0.3:
            params = {"mount": digest, "from": f"race/r{rng.randrange(self.repos)}"}
        async with http.post(f"{base}/v2/{repo}/blobs/uploads/", params=params) as r:
            if r.status == 201:
                return True  # mounted
            if r.status != 202:
                self.errors.append(f"POST upload {repo} -> {r.status} {await r.text()}")
                return False
            location = r.headers["Location"]
        if location.startswith("/"):
            location = base + location
        async with http.put(location, params={"digest": digest}, data=blob) as r:
            if r.status != 201:
                self.errors.append(f"PUT blob {repo} {digest} -> {r.status} {await r.text()}")
                return False
        return True

    async def _pull_one(self, http: aiohttp.ClientSession, rng: random.Random) -> None:
        acked = rng.choice(list(self.acked.values()))
        base = rng.choice(self.read_urls)
        async with http.get(f"{base}/v2/{acked.repo}/manifests/{acked.digest}") as r:
            await r.read()
            if r.status >= 500:
                self.errors.append(f"GET manifest {acked.digest} -> {r.status}")
            if r.status != 200:
                return  # deleted meanwhile by another client: checked at the end instead
        blob = rng.choice(acked.blobs)
        async with http.get(f"{base}/v2/{acked.repo}/blobs/{_sha(blob)}") as r:
            data = await r.read()
            self.pulls += 1
            if r.status >= 500 or (r.status == 200 and data != blob):
                self.errors.append(f"GET blob {_sha(blob)} -> {r.status}, {len(data)} bytes")

    async def _delete_one(self, http: aiohttp.ClientSession, rng: random.Random) -> None:
        acked = rng.choice(list(self.acked.values()))
        self.acked.pop(acked.digest, None)  # whatever the answer, it is no longer promised
        base = rng.choice(self.push_urls)
        async with http.delete(f"{base}/v2/{acked.repo}/manifests/{acked.digest}") as r:
            await r.read()
            if r.status == 202:
                self.deleted += 1
            elif r.status != 404:
                self.errors.append(f"DELETE manifest {acked.digest} -> {r.status}")

    def summary(self) -> str:
        """One line for failure messages: the seed and what the run did."""
        return (
            f"seed {self.seed}: {len(self.acked)} acknowledged, {self.retries} manifest retries, "
            f"{self.deleted} deleted, {self.pulls} pulls, {len(self.errors)} errors"
        )

    async def verify(self) -> list[str]:
        """Every problem with an acknowledged manifest on any ``read_urls``/``push_urls`` (empty: ok)."""
        problems = list(self.errors)
        limit = asyncio.Semaphore(8)

        async def check(base: str, acked: Acked) -> list[str]:
            async with limit:
                return await _check(http, base, acked)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            bases = dict.fromkeys(self.push_urls + self.read_urls)
            found = await asyncio.gather(*(check(b, a) for b in bases for a in self.acked.values()))
        return problems + [p for ps in found for p in ps]


async def _check(http: aiohttp.ClientSession, base: str, acked: Acked) -> list[str]:
    found = []
    for ref in (acked.tag, acked.digest):
        async with http.get(f"{base}/v2/{acked.repo}/manifests/{ref}", headers={"Accept": MANIFEST}) as r:
            data = await r.read()
            if r.status != 200 or data != acked.manifest:
                found.append(f"{base} manifest {acked.repo}:{ref} -> {r.status}, {len(data)} bytes")
    for blob in dict.fromkeys(acked.blobs):
        async with http.get(f"{base}/v2/{acked.repo}/blobs/{_sha(blob)}") as r:
            data = await r.read()
            if r.status != 200 or data != blob:
                found.append(
                    f"{base} blob {_sha(blob)} of {acked.repo}:{acked.tag} -> {r.status}, {len(data)} bytes"
                )
    return found


def _manifest(config: bytes, layers: list[bytes]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _sha(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _sha(b), "size": len(b)}
            for b in layers
        ],
        "annotations": {"id": uuid.uuid4().hex},  # every push its own manifest digest
    }
    return json.dumps(doc).encode()
