"""The one mark-and-sweep (``registry.store.gc``), driven through the local library's real program.

What the engine owns, whichever program runs it: the grace rule, batches of claimed blobs, the
re-check under the writer lock before any bytes go (a claim that no longer holds, an orphan that
got its record meanwhile), dry runs, and the one report. The interleavings are forced by running a
real concurrent change in the very transaction that re-checks (a publish that committed just
before it), through a subclass of the library's program: the sweep itself is the real one.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence

from registry.oci.digest import Digest
from registry.store.catalog import Connection, ModelsCatalog
from registry.store.gc import BATCH, GcReport, Sweep, collect
from registry.store.library import Library
from registry.store.library.gc import LibraryGc
from tests.support.models import make_model

_OLD = time.time() - 7200


def _record_old_blobs(library: Library, count: int) -> list[Digest]:
    """``count`` blobs with rows created two hours ago (past any test's grace)."""
    sizes = {library.blobs.write_bytes(f"garbage {i}".encode()): len(f"garbage {i}") for i in range(count)}
    with library.db.write() as conn:
        ModelsCatalog.record_blobs(conn, sizes, now=_OLD)
    return list(sizes)


def _run(program: LibraryGc, *, grace: float, dry_run: bool = False) -> GcReport:
    return asyncio.run(collect(program, Sweep(now=time.time(), grace=grace, dry_run=dry_run)))


def test_the_grace_rule_keeps_what_changed_at_the_cutoff() -> None:
    sweep = Sweep(now=1000.0, grace=10.0)
    assert sweep.cutoff == 990.0
    assert sweep.past_grace(989.5) and not sweep.past_grace(990.0) and not sweep.past_grace(995.0)
    assert Sweep(now=1000.0, grace=0.0).past_grace(999.999) and not Sweep(now=1000.0, grace=0.0).past_grace(
        1000.0
    )


def test_one_report_carries_both_programs_fields() -> None:
    report = GcReport(dry_run=True, blobs_removed=[Digest.parse("sha256:" + "ab" * 32)], bytes_freed=5)
    report.orphan_files_removed, report.partials_removed, report.temp_files_removed = 1, 2, 3
    report.uploads_purged = 4
    assert report.blobs is report.blobs_removed
    assert report.items_removed == 1 + 1 + 2 + 3 + 4
    assert report.to_json() == {
        "dry_run": True,
        "blobs_removed": 1,
        "bytes_freed": 5,
        "orphan_files_removed": 1,
        "uploads_purged": 4,
        "blobs": ["sha256:" + "ab" * 32],
    }


def test_more_claims_than_one_batch_are_all_swept(library: Library) -> None:
    garbage = _record_old_blobs(library, 2 * BATCH + 5)
    make_model(library, "kept", weights=b"kept weights")
    with library.db.write() as conn:
        recorded = len(ModelsCatalog.blob_rows(conn))
    dry = library.prune(dry_run=True, grace_seconds=60)
    assert (
        set(dry.blobs_removed) == set(garbage)
        and len(dry.blobs_removed) == len(garbage)
        and all(library.blobs.exists(d) for d in garbage)
    )
    report = library.prune(grace_seconds=60)
    assert set(report.blobs_removed) == set(garbage) and len(report.blobs_removed) == len(garbage)
    assert report.bytes_freed == sum(len(f"garbage {i}") for i in range(2 * BATCH + 5))
    assert report.blobs_total == dry.blobs_total == recorded
    assert not any(library.blobs.exists(d) for d in garbage)
    assert [m.name.model for m in library.list_models()] == ["kept"] and library.verify().ok


class _PublishedAgainBeforeTheSweep(LibraryGc):
    """The library's program, with a publish of ``again`` committed just before the sweep's batch."""

    def __init__(self, library: Library, again: Digest) -> None:
        super().__init__(library)
        self.again = again

    def still_claimed(self, conn: Connection, digests: Sequence[Digest]) -> set[Digest]:
        ModelsCatalog.record_blobs(conn, {self.again: len(b"published again")})
        return super().still_claimed(conn, digests)


def test_a_blob_published_again_after_its_claim_keeps_its_file(library: Library) -> None:
    again, _ = library.add_bytes(b"published again")
    gone = _record_old_blobs(library, 1)
    report = _run(_PublishedAgainBeforeTheSweep(library, again), grace=0)
    assert report.blobs_removed == gone and report.bytes_freed == len("garbage 0")
    assert library.blobs.exists(again) and not library.blobs.exists(gone[0])
    with library.db.write() as conn:
        assert again in ModelsCatalog.blob_rows(conn, [again])
    assert library.verify().ok


class _RecordedBeforeTheRecheck(LibraryGc):
    """The library's program, with the record of every orphan candidate committed just before the
    sweep re-checks them under the lock (a writer that published, then recorded)."""

    def __init__(self, library: Library) -> None:
        super().__init__(library)
        self.library = library

    def unrecorded(self, conn: Connection, candidates: Sequence[Digest]) -> set[Digest]:
        ModelsCatalog.record_blobs(conn, {d: self.library.blobs.size(d) for d in candidates})
        return super().unrecorded(conn, candidates)


def test_an_orphan_recorded_before_the_recheck_is_kept(library: Library) -> None:
    orphan = library.blobs.write_bytes(b"recorded at the last moment")
    report = _run(_RecordedBeforeTheRecheck(library), grace=0)
    assert report.orphan_files_removed == 0 and library.blobs.exists(orphan)
    assert library.prune(grace_seconds=0).orphan_files_removed == 0 and library.verify().ok


def test_stray_files_under_blobs_are_orphans_past_the_grace(library: Library) -> None:
    stray = library.layout.root / "blobs" / "sha256" / "zz" / "not-a-digest"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"stray!")
    assert library.prune(grace_seconds=3600).orphan_files_removed == 0  # just written: in the grace
    dry = library.prune(dry_run=True, grace_seconds=0)
    assert dry.orphan_files_removed == 1 and dry.bytes_freed == len(b"stray!") and stray.exists()
    report = library.prune(grace_seconds=0)
    assert report.orphan_files_removed == 1 and not stray.exists()


def test_an_orphan_within_the_grace_or_leased_is_kept(library: Library) -> None:
    young = library.blobs.write_bytes(b"published a moment ago, recorded soon")
    leased = library.blobs.write_bytes(b"a pull between its blobs and its manifest")
    os.utime(library.blobs.path(leased), (_OLD, _OLD))
    with library.lease([leased], "test"):
        report = library.prune(grace_seconds=3600)  # ctime is now for both: only the lease matters below
        assert report.orphan_files_removed == 0
        report = library.prune(grace_seconds=0)
        assert (
            report.orphan_files_removed == 1
            and library.blobs.exists(leased)
            and not library.blobs.exists(young)
        )
    assert library.prune(grace_seconds=0).orphan_files_removed == 1 and not library.blobs.exists(leased)
