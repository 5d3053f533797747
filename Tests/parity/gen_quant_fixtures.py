#!/usr/bin/env python3
"""Golden fixtures for Glossa's GGUF dequantizers, from the `gguf` package's reference (numpy) implementation.

For each ggml block type: a few blocks of random bytes whose f16 scale fields (d, dmin, m) are replaced by random
*finite* half floats (normal, subnormal, zero, both signs), dequantized with `gguf.quants.dequantize`. One file per
type in Tests/GlossaWeightsTests/Fixtures/quants/<TYPE>.bin:

    u32 ggml type id, u32 element count n, raw block bytes (n / block_size * block_bytes), n little-endian f32

`Tests/GlossaWeightsTests/DequantizeTests.swift` reads them and requires bit-identical results.

  .venv/bin/python Tests/parity/gen_quant_fixtures.py
"""
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

OUT = os.path.join(os.path.dirname(__file__), "..", "GlossaWeightsTests", "Fixtures", "quants")

# Byte offsets of the f16 fields inside one block (ggml-common.h block layouts).
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82],    # scales[16], qs[64], d, dmin
    T.Q3_K: [108],       # hmask[32], qs[64], scales[12], d
    T.Q4_K: [0, 2],      # d, dmin, scales[12], qs[128]
    T.Q5_K: [0, 2],      # d, dmin, scales[12], qh[32], qs[128]
    T.Q6_K: [208],       # ql[128], qh[64], scales[16], d
}
BLOCKS = 6


def finite_f16(rng):
    """A random finite half float: mostly normal values of moderate size, some subnormal, zero, large."""
    kind = rng.integers(0, 10)
    if kind == 0:
        bits = rng.integers(0, 0x400)                         # subnormal or zero
    elif kind == 1:
        bits = rng.integers(0x5800, 0x7C00)                   # large (≥ 128, finite)
    else:
        bits = rng.integers(0x1C00, 0x4400)                   # about 2^-8 … 4
    bits |= int(rng.integers(0, 2)) << 15
    return int(bits)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240606)
    for qtype, fields in F16_FIELDS.items():
        block_size, block_bytes = GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(BLOCKS, block_bytes), dtype=np.uint8)
        for b in range(BLOCKS):
            for off in fields:
                raw[b, off:off + 2] = np.frombuffer(struct.pack("<H", finite_f16(rng)), dtype=np.uint8)
        expected = dequantize(raw, qtype).reshape(-1).astype("<f4")
        n = BLOCKS * block_size
        assert expected.size == n and np.isfinite(expected).all(), qtype.name
        with open(os.path.join(OUT, f"{qtype.name}.bin"), "wb") as f:
            f.write(struct.pack("<II", int(qtype), n))
            f.write(raw.tobytes())
            f.write(expected.tobytes())
        print(f"{qtype.name}: {BLOCKS} blocks, {n} values")


if __name__ == "__main__":
    main()
