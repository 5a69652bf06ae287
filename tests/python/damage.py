"""Damaged variants of a campaign file, made in the test command (issue 34, items 2-4).

- ``zero_chunk``: the bytes of one run's chunk of a variable set to zero, Fletcher-32 trailer
  included (the Fletcher sum of zeros is zero: the chunk passes HDF5's check).
- ``flip_chunk_filter_mask``: bit 0 of the filter mask in the chunk-index entry of one run's
  chunk set, so HDF5 no longer applies (or checks) Fletcher-32 on it; ``and_data`` flips a bit
  of the chunk's data as well (damage the filter no longer sees).
- ``misdirect_chunk``: the address in one run's chunk-index entry replaced by the address of
  another variable's chunk (the two then share bytes: a rewrite of the first overwrites the
  second).
- ``flip_byte``: one byte of the file xor-ed.

Each writes the file in place and returns a short description.
"""

from __future__ import annotations

import struct
from pathlib import Path


def _chunk(path: Path, variable: str, run: int):
    import h5py

    with h5py.File(path, "r") as f:
        ds = f[variable]
        info = ds.id.get_chunk_info(run)
        return info.byte_offset, info.size, info.filter_mask, ds.ndim


def _mask(path: Path, variable: str, run: int) -> int:
    return _chunk(path, variable, run)[2]


def zero_chunk(path: Path, variable: str, run: int) -> str:
    offset, size, _, _ = _chunk(path, variable, run)
    data = bytearray(path.read_bytes())
    data[offset:offset + size] = bytes(size)
    path.write_bytes(bytes(data))
    return f"{variable} chunk of run {run} zeroed ({size} bytes at {offset})"


def flip_byte(path: Path, offset: int, bit: int = 0x10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= bit
    path.write_bytes(bytes(data))


def flip_chunk_filter_mask(path: Path, variable: str, run: int, and_data: bool = False) -> str:
    """Find the chunk's index entry by its address and set bit 0 of its filter mask.

    The entry's layout depends on the index HDF5 chose (version-1 B-tree: mask in the key
    before the child address; fixed or extensible array: address, size, then mask): every
    candidate place is tried on a copy and kept only if h5py then reports the mask set for this
    chunk and unchanged for the others.
    """
    offset, size, mask, ndim = _chunk(path, variable, run)
    assert mask == 0, "the chunk has its filter on"
    original = path.read_bytes()
    address = struct.pack("<Q", offset)
    places = []
    at = original.find(address)
    while at >= 0:
        places.append(at - 8 * (ndim + 1) - 4)           # v1 B-tree key: size, mask, offsets
        places += [at + 8 + n for n in range(1, 9)]       # array entry: address, size, mask
        at = original.find(address, at + 1)
    for place in places:
        if place < 0 or place + 4 > len(original):
            continue
        data = bytearray(original)
        data[place] ^= 0x01
        if and_data:
            data[offset + 3] ^= 0x10
        path.write_bytes(bytes(data))
        try:
            other = 1 if run == 0 else 0
            if _mask(path, variable, run) & 1 and _mask(path, variable, other) == 0:
                return (f"{variable}: filter mask of run {run}'s chunk-index entry flipped at "
                        f"{place}" + (", and a bit of its data" if and_data else ""))
        except Exception:  # noqa: BLE001 - a wrong place may break the index: try the next
            pass
    path.write_bytes(original)
    raise AssertionError(f"no chunk-index entry of {variable} run {run} found")


def misdirect_chunk(path: Path, variable: str, run: int, onto: str, onto_run: int) -> str:
    """Point run `run`'s chunk of `variable` at the bytes of run `onto_run`'s chunk of `onto`:
    the chunk address is found by its 8 bytes in the index and replaced, and kept only if h5py
    then reports the new address for this chunk and the others unchanged."""
    offset, _, _, _ = _chunk(path, variable, run)
    target, _, _, _ = _chunk(path, onto, onto_run)
    original = path.read_bytes()
    address = struct.pack("<Q", offset)
    at = original.find(address)
    while at >= 0:
        data = bytearray(original)
        data[at:at + 8] = struct.pack("<Q", target)
        path.write_bytes(bytes(data))
        try:
            other = 1 if run == 0 else 0
            if (_chunk(path, variable, run)[0] == target
                    and _chunk(path, variable, other)[0] != target):
                return f"{variable} run {run}'s chunk address set to {onto} run {onto_run}'s"
        except Exception:  # noqa: BLE001 - a wrong place may break the index: try the next
            pass
        at = original.find(address, at + 1)
    path.write_bytes(original)
    raise AssertionError(f"no chunk-index entry of {variable} run {run} found")
