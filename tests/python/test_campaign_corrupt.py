"""load_campaign on damaged campaign files: always the documented CampaignError, naming the file.

Each file is a small campaign written by ``plateau run`` and then damaged: truncated, a flipped
byte in the superblock, a deleted variable, a status outside the flag values, NaN or inf inside
a completed run, flipped bits inside the data of one run, a zeroed chunk and a flipped filter-mask
bit in the chunk index (tests/python/damage.py).
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from conftest import run_plateau
from plateau_analysis.campaign import CampaignError, load_campaign


@pytest.fixture(scope="module")
def good(plateau_program, tmp_path_factory):
    path = tmp_path_factory.mktemp("corrupt") / "good.h5"
    run_plateau(plateau_program, path, "--N", 50, "--alpha-max", 2, "--records", 6,
                "--seeds", 3, "--eta", "0.3,0.6")
    return path


def copy(good, tmp_path, name="bad.h5"):
    out = tmp_path / name
    shutil.copyfile(good, out)
    return out


def expect_campaign_error(path, *words):
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    message = str(info.value)
    assert str(path) in message, message
    assert "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


def test_the_good_file_opens(good):
    groups = load_campaign(good)
    assert list(groups) == ["K2_M2"]


def test_truncated_file(good, tmp_path):
    path = copy(good, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_campaign_error(path)


def test_flipped_byte_in_the_superblock(good, tmp_path):
    path = copy(good, tmp_path)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside the superblock (after the 8-byte signature)
    path.write_bytes(bytes(data))
    expect_campaign_error(path)


def test_deleted_variable(good, tmp_path):
    path = copy(good, tmp_path)
    with h5py.File(path, "r+") as f:
        del f["K2_M2/Q"]
    expect_campaign_error(path, "Q")


def test_status_outside_the_flag_values(good, tmp_path):
    path = copy(good, tmp_path)
    with h5py.File(path, "r+") as f:
        status = f["K2_M2/status"][...]
        status[4] = 7
        f["K2_M2/status"][...] = status
    expect_campaign_error(path, "status", "7", "run_index 4")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_value_in_a_completed_run(good, tmp_path, value):
    path = copy(good, tmp_path)
    with h5py.File(path, "r+") as f:
        eg = f["K2_M2/eg"][...]
        eg[2, 3] = value
        f["K2_M2/eg"][...] = eg
    expect_campaign_error(path, "eg", "run_index 2", "completed")


def test_flipped_bits_in_the_data_of_a_run(good, tmp_path):
    """The per-run checksum (Fletcher-32 on each run's chunk) names the damaged run."""
    path = copy(good, tmp_path)
    with h5py.File(path, "r") as f:
        ds = f["K2_M2/Q"]
        assert ds.fletcher32, "the data variables carry a checksum"
        offset = ds.id.get_chunk_info(5).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 3] ^= 0x10
    path.write_bytes(bytes(data))
    expect_campaign_error(path, "checksum", "Q", "run_index 5")


def test_a_zeroed_chunk_of_a_run(good, tmp_path):
    """Fletcher-32 of zeros is zero: the zeroed chunk passes HDF5; run_checksum names the run."""
    import damage

    path = copy(good, tmp_path)
    damage.zero_chunk(path, "K2_M2/eg", 2)
    expect_campaign_error(path, "checksum", "run_checksum of run_index 2")


def test_a_flipped_filter_mask_in_the_chunk_index(good, tmp_path):
    """The flipped mask turns Fletcher-32 off for the chunk; its flipped data bit is found by
    run_checksum."""
    import damage

    path = copy(good, tmp_path)
    damage.flip_chunk_filter_mask(path, "K2_M2/R", 1, and_data=True)
    expect_campaign_error(path, "checksum", "run_checksum of run_index 1")
