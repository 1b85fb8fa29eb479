"""A full disk: one line naming the path and the cause, no temp file left behind, warehouse intact.

The warehouse sits on a small tmpfs (mounted by the test where allowed, i.e. as root); elsewhere the
subprocess runs under RLIMIT_FSIZE, which makes the same writes fail with EFBIG ("File too large")."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE, acled_row, write_csv
from warehouse import db


@pytest.fixture
def small_disk(tmp_path):
    """(folder, preexec_fn) with about 6 MB to write in."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    if mounted:
        yield folder, None
        subprocess.run(["umount", str(folder)], check=False)
        return

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6 * 2**20, 6 * 2**20))

    yield folder, limit


def rw(*args, warehouse, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "riskwatch", "--warehouse", str(warehouse), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec)


@pytest.mark.embedded_only("the warehouse file and its WAL on a full disk, moved to a roomy one")
def test_ingest_on_a_full_disk_is_one_line_and_leaves_the_warehouse_as_it_was(small_disk, tmp_path):
    folder, preexec = small_disk
    wh = folder / "wh.duckdb"
    first = rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
               preexec=preexec)
    assert first.returncode == 0, first.stderr
    big = write_csv(tmp_path / "big.csv", [acled_row(event_id_cnty=f"BIG{i}", notes=f"{i} " + "x" * 200)
                                           for i in range(40000)])
    out = rw("ingest", str(big), "--source", "acled", warehouse=wh, preexec=preexec)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "no transaction is active" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and str(wh) in line
    assert "No space left on device" in line or "File too large" in line
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    # Intact: moved to a disk with room, the warehouse opens with exactly the first load (the second undone).
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    for p in folder.iterdir():
        if p.name.startswith("wh.duckdb") and p.is_file():
            shutil.copyfile(p, roomy / p.name)
    con = db.connect(roomy / "wh.duckdb")
    try:
        assert con.execute("SELECT count(*) FROM incident_current").fetchone() == (97,)
        assert con.execute("SELECT status FROM ingest_runs ORDER BY run_id").fetchall()[0] == ("success",)
        assert con.execute("SELECT count(*) FROM ingest_runs WHERE status <> 'success' AND status <> 'failed'"
                           ).fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.embedded_only("the read snapshot copy of the file")
def test_snapshot_that_does_not_fit_is_a_warning_and_leaves_no_temp_file(small_disk, tmp_path):
    folder, preexec = small_disk
    wh = folder / "wh.duckdb"
    filler = folder / "filler"
    if preexec is None:   # tmpfs: leave room for the warehouse (~4 MB) but not for its copy
        filler.write_bytes(b"\0" * (1 * 2**20))
    out = rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
             preexec=preexec)
    if preexec is not None and out.returncode == 0 and (folder / "wh.duckdb.snapshot").exists():
        pytest.skip("RLIMIT_FSIZE limits each file, not the disk: the copy fits")
    assert out.returncode == 0, out.stderr
    assert "inserted 97" in out.stdout
    warning, = out.stderr.strip().splitlines()
    assert warning == (f"cannot write the read snapshot {wh}.snapshot: No space left on device (the warehouse is "
                       "intact; readers keep the previous snapshot)")
    assert not (folder / "wh.duckdb.snapshot.tmp").exists()
    assert os.path.getsize(wh) > 0
