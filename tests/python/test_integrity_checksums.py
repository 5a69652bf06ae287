"""Issue 34, items 2, 3, 4, 6 and 7: a checksum that sees zeros, verified reads, NaN kept,
builds not mixed (docs/RELIABILITY.md, "Damaged files").

The damaged variants are made here, from a good file, by tests/python/damage.py: a zeroed
chunk (its Fletcher-32 is zero too), and a flipped filter-mask bit in a chunk-index entry with a
flipped data bit (the filter is then skipped). Every reader must see them: load_campaign,
``plateau run --resume`` (computes the run again, bit-identical), ``plateau merge`` (the run
counts as not in the part) and ``plateau ode --init-from`` (refused, exit 2, one line).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

import damage
from conftest import _program, dataset_bytes, refused
from plateau_analysis.campaign import CampaignError, load_campaign, run_checksum

RUN = ["--N", "50", "--alpha-max", "2", "--records", "6", "--seeds", "3", "--eta", "0.3,0.6"]
ODE = ["--N", "50", "--alpha-max", "1", "--records", "3", "--seeds", "3", "--eta", "0.3,0.6"]
DAMAGED = 4  # the run_index damaged


@pytest.fixture(scope="module")
def program() -> Path:
    path = _program()
    if path is None:
        pytest.skip("the plateau program is not built (set PLATEAU_BUILD_DIR)")
    return path.resolve()


def plateau(program, *args):
    return subprocess.run([str(program), *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, errors="replace")



@pytest.fixture(scope="module")
def good(program, tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.h5"
    r = plateau(program, "run", *RUN, "-q", "-o", path)
    assert r.returncode == 0, r.stderr
    return path


def zeroed(path):
    damage.zero_chunk(path, "K2_M2/eg", DAMAGED)


def index_flipped(path):
    damage.flip_chunk_filter_mask(path, "K2_M2/eg", DAMAGED, and_data=True)


VARIANTS = pytest.mark.parametrize("make", [zeroed, index_flipped], ids=["zeroed-chunk",
                                                                         "chunk-index-bit"])


@pytest.fixture
def bad(good, tmp_path, request):
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    request.param(path)
    return path


def test_the_checksum_is_zlibs_crc32_of_the_covered_bytes(good):
    with h5py.File(good, "r") as f:
        g = f["K2_M2"]
        names = g["run_checksum"].attrs["covers"].decode().split()
        assert names[0] == "eg" and names[-1] == "outcome"
        for i in range(g["run_index"].shape[0]):
            assert run_checksum(g[n][i] for n in names) == int(g["run_checksum"][i])
    assert run_checksum([np.zeros(4)]) != 0, "the CRC of zeros is not zero"


@VARIANTS
def test_the_damage_passes_fletcher32(good, tmp_path, make):
    """The premise: HDF5 itself reads the damaged chunk without an error."""
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    make(path)
    with h5py.File(path, "r") as f, h5py.File(good, "r") as g:
        got = f["K2_M2/eg"][DAMAGED]
        assert not np.array_equal(got, g["K2_M2/eg"][DAMAGED])


@VARIANTS
def test_load_campaign_names_the_run(good, tmp_path, make):
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    make(path)
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    assert "run_checksum of run_index 4" in str(info.value)


@VARIANTS
def test_resume_computes_the_run_again_bit_identically(program, good, tmp_path, make):
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    make(path)
    r = plateau(program, "run", *RUN, "--resume", "-o", path)
    assert r.returncode == 0, r.stderr
    assert "run_index 4; computing them again" in r.stderr
    assert dataset_bytes(path) == dataset_bytes(good)


@VARIANTS
def test_merge_does_not_copy_the_run(program, good, tmp_path, make):
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    make(path)
    out = tmp_path / "m.h5"
    r = plateau(program, "merge", out, path)
    assert r.returncode == 2, r.stderr
    assert "run_index 4 fail their checksum" in r.stderr
    assert not out.exists()


@VARIANTS
def test_init_from_refuses_the_run(program, good, tmp_path, make):
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    make(path)
    out = tmp_path / "t.h5"
    refused(plateau(program, "ode", *ODE, "--init-from", path, "-q", "-o", out),
            "for 'init-from'", "run_index 4", "run_checksum")
    assert not out.exists()


def test_a_file_of_an_older_minor_is_read_with_fletcher32_only(program, good, tmp_path):
    path = tmp_path / "old.h5"
    shutil.copyfile(good, path)
    with h5py.File(path, "r+") as f:
        del f["K2_M2/run_checksum"]
        f.attrs["schema_version_minor"] = np.int64(3)
    assert list(load_campaign(path)) == ["K2_M2"]
    r = plateau(program, "ode", *ODE, "--init-from", path, "--predictions", "none", "-q", "-o",
                tmp_path / "t.h5")
    assert r.returncode == 0, r.stderr


# ---- item 4: --resume refuses damaged metadata, naming it ----------------------------------


def _delete_run_index(f):
    del f["K2_M2/run_index"]


def _foreign_kind(f):
    f.attrs["kind"] = "spreadsheet"


@pytest.mark.parametrize("edit,named", [(_delete_run_index, "run_index"),
                                        (_foreign_kind, "unknown kind 'spreadsheet'")])
def test_resume_refuses_a_file_the_reader_cannot_open(program, good, tmp_path, edit, named):
    path = tmp_path / "bad.h5"
    shutil.copyfile(good, path)
    with h5py.File(path, "r+") as f:
        edit(f)
    before = path.read_bytes()
    refused(plateau(program, "run", *RUN, "--resume", "-o", path), "refusing to resume",
            "damaged", named)
    assert path.read_bytes() == before


# ---- item 6: a non-finite eps_g is NaN and the run diverged --------------------------------


def test_a_non_finite_eps_g_is_stored_as_nan_and_the_run_diverged(program, tmp_path):
    out = tmp_path / "x.h5"
    r = plateau(program, "run", "--N", "1000", "--v0", "1e154", "--eta", "1e-320",
                "--alpha-max", "0.01", "--records", "3", "--schedule", "linear", "--seeds", "2",
                "-q", "-o", out)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert np.isnan(f["K2_M2/eg"][...]).all()
        assert list(f["K2_M2/status"][...]) == [2, 2]
        assert list(f["K2_M2/outcome"][...]) == [4, 4]


# ---- item 7: merge refuses parts of different builds ---------------------------------------


@pytest.fixture(scope="module")
def shards(program, tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    parts = []
    for i in range(2):
        part = d / f"p{i}.h5"
        r = plateau(program, "run", *RUN, "--shard", f"{i}/2", "-q", "-o", part)
        assert r.returncode == 0, r.stderr
        parts.append(part)
    return parts


@pytest.mark.parametrize("attribute", ["software_version", "git_describe", "compiler"])
def test_merge_refuses_parts_of_different_builds(program, shards, tmp_path, attribute):
    other = tmp_path / "p1.h5"
    shutil.copyfile(shards[1], other)
    with h5py.File(other, "r+") as f:
        f.attrs[attribute] = "another-build"
    out = tmp_path / "m.h5"
    refused(plateau(program, "merge", out, shards[0], other), "another-build",
            "--allow-mixed-builds")
    assert not out.exists()
    r = plateau(program, "merge", out, shards[0], other, "--allow-mixed-builds", "-q")
    assert r.returncode == 0, r.stderr


def test_merge_of_one_build_needs_no_option(program, shards, good, tmp_path):
    out = tmp_path / "m.h5"
    r = plateau(program, "merge", out, *shards, "-q")
    assert r.returncode == 0, r.stderr
    assert dataset_bytes(out) == dataset_bytes(good)


def _python_reads(path) -> bool:
    """load_campaign in a child process (h5py may crash on some damaged files). A fork of this
    process, which has imported the analysis package already: a fresh interpreter spent ~0.6 s
    importing it per file (docs/PERFORMANCE.md §29). The alarm ends a child that hangs."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            signal.alarm(120)
            load_campaign(path, warn_incomplete=False)
            status = 0
        except BaseException:  # noqa: BLE001 - any failure to read is a "no"
            pass
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status) == 0


def test_resume_refuses_a_chunk_index_that_points_into_another_chunk(program, good, tmp_path):
    """A chunk-index entry pointing run 0's eps_train chunk at run 4's v chunk: the checksums
    see run 0 as damaged, and rewriting it would overwrite run 4's v (found once by the byte
    flips below: --resume then left a file whose run 4 failed its checksum). --resume refuses,
    naming the overlap, and the file keeps every byte."""
    path = tmp_path / "f.h5"
    shutil.copyfile(good, path)
    damage.misdirect_chunk(path, "K2_M2/eps_train", 0, "K2_M2/v", 4)
    before = path.read_bytes()
    r = plateau(program, "run", *RUN, "--resume", "-q", "-o", path)
    refused(r, "refusing to resume", "overlapping bytes", "K2_M2/eps_train", "K2_M2/v")
    assert path.read_bytes() == before


def test_resume_and_merge_never_accept_a_file_the_reader_cannot_open(program, good, tmp_path):
    """One flipped byte at 40 places spread over the file (metadata, headers, chunk index,
    data): --resume and merge either succeed with a file load_campaign reads, or refuse with one
    line; never exit 0 leaving (or writing) a file no reader opens."""
    size = good.stat().st_size
    accepted_unreadable = []
    for offset in range(7, size, size // 40):
        path = tmp_path / "f.h5"
        shutil.copyfile(good, path)
        damage.flip_byte(path, offset)
        for command in (["run", *RUN, "--resume", "-q", "-o", path],
                        ["merge", tmp_path / "m.h5", path, "--overwrite", "-q",
                         "--allow-incomplete"]):
            r = plateau(program, *command)
            made = path if command[0] == "run" else tmp_path / "m.h5"
            if r.returncode == 0:
                if not _python_reads(made):
                    accepted_unreadable.append((offset, command[0]))
            else:
                assert len(r.stderr.strip().splitlines()) == 1, (offset, command[0], r.stderr)
            if command[0] == "merge" and made.exists():
                made.unlink()
    assert accepted_unreadable == []


def test_a_corrupt_global_heap_is_refused_not_a_crash(program, good, tmp_path):
    """The dimension scales' DIMENSION_LIST attributes are variable-length references kept in
    the file's global heap (signature GCOL). An object size there that points past the
    collection makes the HDF5 library itself copy past its buffer (H5HG_read: a segmentation
    fault, found by the flipped byte at offset 14467 above on one file layout). The reader meets
    it in a child process first (engine/io/h5/verify.hpp): --resume and merge refuse the file
    with one line and exit status 2, and leave it as it was."""
    data = bytearray(good.read_bytes())
    at = data.find(b"GCOL")
    assert at > 0
    # collection: GCOL, version, 3 reserved, 8-byte size (16 bytes); then objects of 24 bytes
    # (index, refcount, reserved, 8-byte size, 8 bytes of data). Object 35's size, bit 4 of its
    # fourth byte (+256 MiB): the flipped byte that crashed (HDF5 refuses some other sizes)
    offset = at + 16 + 24 * 34 + 8 + 3
    assert int.from_bytes(data[offset - 3: offset + 5], "little") == 8
    data[offset] ^= 0x10
    path = tmp_path / "f.h5"
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    r = plateau(program, "run", *RUN, "--resume", "-q", "-o", path)
    refused(r, "refusing to resume", "damaged", "HDF5 library crashed")
    assert path.read_bytes() == before
    r = plateau(program, "merge", tmp_path / "m.h5", path, "-q", "--allow-incomplete")
    refused(r, "damaged", "HDF5 library crashed")
    assert not (tmp_path / "m.h5").exists()
