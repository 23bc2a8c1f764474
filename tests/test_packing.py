"""host.packing: the accelerator's data layout, against layouts worked out by hand, and round trips."""

from __future__ import annotations

import numpy as np
import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.packing import (conv_input_slices, fmap_words, fold_offsets, gather_words, in_fold_channels,
                                   pack_fmap, pack_lanes, pack_params, param_words, unpack_fmap, unpack_lanes,
                                   unpack_params)

CFG4 = HwConfig(p_oc=4, p_ic=2, bits=16, stage3_lanes=2, requant_lanes=4)  # 4 lanes per fold = one 64-bit word


def word16(*lanes: int) -> int:
    """A 64-bit word of four 16-bit lanes, lane 0 lowest, by hand."""
    return sum((int(v) & 0xFFFF) << (16 * j) for j, v in enumerate(lanes))


def word8(*lanes: int) -> int:
    return sum((int(v) & 0xFF) << (8 * j) for j, v in enumerate(lanes))


# ----------------------------------------------------------------------------- feature maps

def test_five_channel_tensor_packs_to_hand_computed_words():
    codes = np.array([[[100 * c + 10 * y + x for x in range(2)] for y in range(2)] for c in range(5)])
    codes[4, 1, 1] = -1
    got = pack_fmap(codes, CFG4)
    expected = [
        # fold 0: channels 0..3, pixels (0,0) (0,1) (1,0) (1,1)
        word16(0, 100, 200, 300), word16(1, 101, 201, 301), word16(10, 110, 210, 310), word16(11, 111, 211, 311),
        # fold 1: channel 4 and three padding lanes
        word16(400, 0, 0, 0), word16(401, 0, 0, 0), word16(410, 0, 0, 0), word16(-1, 0, 0, 0),
    ]
    assert got.dtype == np.uint64
    assert got.tolist() == expected
    assert fmap_words(5, 2, 2, CFG4) == 8
    assert fold_offsets(5, 2, 2, CFG4) == [0, 4, 8]
    back = unpack_fmap(got, 5, 2, 2, CFG4)
    assert np.array_equal(back, codes)


def test_wide_fold_spans_several_words_per_pixel():
    cfg = HwConfig(p_oc=8, p_ic=4, bits=16)  # 8 lanes per fold = 2 words per pixel
    codes = np.arange(10 * 1 * 2).reshape(10, 1, 2) - 7  # 10 channels: folds of 8 and 4 (padded) lanes
    got = pack_fmap(codes, cfg).tolist()
    c = codes[:, 0, :]
    expected = [word16(*c[0:4, 0]), word16(*c[4:8, 0]), word16(*c[0:4, 1]), word16(*c[4:8, 1]),
                word16(c[8, 0], c[9, 0], 0, 0), word16(c[8, 1], c[9, 1], 0, 0)]
    assert got == expected


def test_eight_bit_lanes():
    cfg = HwConfig(p_oc=8, p_ic=8, bits=8)
    codes = np.array([[[-128, 5]], [[127, -1]], [[3, 0]]])  # 3 channels, 1x2
    got = pack_fmap(codes, cfg).tolist()
    assert got == [word8(-128, 127, 3, 0, 0, 0, 0, 0), word8(5, -1, 0, 0, 0, 0, 0, 0)]
    assert np.array_equal(unpack_fmap(np.array(got, dtype=np.uint64), 3, 1, 2, cfg), codes)


def test_unsigned_codes_round_trip():
    cfg = HwConfig(p_oc=8, p_ic=4, bits=16)
    codes = np.array([[[65535, 32768]], [[0, 1]]])
    words = pack_fmap(codes, cfg)
    assert np.array_equal(unpack_fmap(words, 2, 1, 2, cfg, signed=False), codes)
    assert unpack_fmap(words, 2, 1, 2, cfg)[0, 0, 0] == -1


@pytest.mark.parametrize("cfg", [CFG4, HwConfig(), HwConfig(p_oc=16, p_ic=4, bits=8),
                                 HwConfig(p_oc=16, p_ic=8, bits=16, bus_bits=128)])
def test_fmap_round_trip_random(cfg):
    rng = np.random.default_rng(1)
    for c, h, w in ((1, 1, 1), (3, 5, 7), (cfg.p_oc, 2, 3), (2 * cfg.p_oc + 3, 4, 1), (77, 3, 3)):
        codes = rng.integers(-(1 << (cfg.bits - 1)), 1 << (cfg.bits - 1), size=(c, h, w))
        words = pack_fmap(codes, cfg)
        assert words.size == fmap_words(c, h, w, cfg)
        assert np.array_equal(unpack_fmap(words, c, h, w, cfg), codes)
        # padding lanes are zero: the total of nonzero lanes never exceeds the real codes
        lanes = unpack_lanes(words, cfg.bits)
        assert np.count_nonzero(lanes) == np.count_nonzero(codes)


def test_fmap_shape_and_range_errors():
    with pytest.raises(ValueError, match="codes"):
        pack_fmap(np.zeros((2, 2)), CFG4)
    with pytest.raises(ValueError, match="16-bit"):
        pack_fmap(np.full((1, 1, 1), 1 << 16), CFG4)
    with pytest.raises(ValueError, match="integer"):
        pack_fmap(np.zeros((1, 1, 1), dtype=np.float32), CFG4)
    with pytest.raises(ValueError, match="expected 8"):
        unpack_fmap(np.zeros(7, dtype=np.uint64), 5, 2, 2, CFG4)
    with pytest.raises(ValueError, match="uint64"):
        unpack_fmap(np.zeros(8, dtype=np.int64), 5, 2, 2, CFG4)
    with pytest.raises(ValueError, match="channels"):
        unpack_fmap(np.zeros(8, dtype=np.uint64), 0, 2, 2, CFG4)


def test_lane_packing_little_endian_128_bit_bus():
    lanes = np.arange(16) - 8
    words = pack_lanes(lanes, 16)
    assert words.tolist() == [word16(*lanes[i:i + 4]) for i in range(0, 16, 4)]
    assert np.array_equal(unpack_lanes(words, 16), lanes)
    with pytest.raises(ValueError, match="whole number"):
        pack_lanes(np.arange(3), 16)


# ----------------------------------------------------------------------------- route inputs, slices

def test_in_fold_channels_of_route_segments():
    cfg = HwConfig(p_oc=8, p_ic=4, bits=16)  # 4 lanes per word
    folds = in_fold_channels((10, 7), cfg)
    assert folds == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [8, 9, None, None],            # segment A: 10 channels padded to 12
        [10, 11, 12, 13, 14, 15, 16, None],  # segment B folded on its own
    ]
    assert in_fold_channels((8,), cfg) == [[0, 1, 2, 3, 4, 5, 6, 7]]
    with pytest.raises(ValueError, match="segments"):
        in_fold_channels((0,), cfg)


def test_conv_input_slices_by_hand():
    # 5 channels (folds of 4 and 4 lanes, one word per pixel each), 4 rows x 3 cols, 3x3, 2 out folds,
    # two bands of 2 rows: band 0 reads rows 0..2, band 1 rows 1..3.
    slices = conv_input_slices((5,), 4, 3, 3, 2, 2, 2, CFG4)
    fold1 = 12  # words of fold 0 (4 rows x 3 cols x 1 word)
    band0 = [(0, 9), (fold1, 9)]
    band1 = [(3, 9), (fold1 + 3, 9)]
    assert slices == band0 + band1 + band0 + band1
    # 1x1: no halo rows
    assert conv_input_slices((5,), 4, 3, 1, 1, 2, 2, CFG4) == [(0, 6), (12, 6), (6, 6), (18, 6)]
    # two segments back to back
    assert conv_input_slices((4, 4), 2, 2, 1, 1, 1, 2, CFG4) == [(0, 4), (4, 4)]
    words = np.arange(24, dtype=np.uint64)
    assert gather_words(words, [(3, 2), (10, 1)]).tolist() == [3, 4, 10]
    with pytest.raises(ValueError, match="cover"):
        conv_input_slices((5,), 4, 3, 3, 1, 1, 2, CFG4)
    with pytest.raises(ValueError, match="outside"):
        gather_words(words, [(20, 5)])


# ----------------------------------------------------------------------------- parameters

def test_params_by_hand():
    # 2 out channels, 3 in channels (one input fold of 4 lanes: S_f = 2 sub-folds of p_ic = 2), 1x1.
    w = np.array([[1, 2, 3], [-4, 5, -6]]).reshape(2, 3, 1, 1)
    bias = np.array([-1, 1 << 40])
    shifts = np.array([17, 63])
    got = pack_params(w, bias, shifts, (3,), 1, CFG4).tolist()
    preamble = [((-1) & ((1 << 48) - 1)) | (17 << 48), (1 << 40) | (63 << 48), 0, 0]
    # (t=0) s=0: oc0 (ic0, ic1), oc1, oc2, oc3 ; s=1: lanes 2, 3 -> channel 2 and padding
    lanes = [1, 2, -4, 5, 0, 0, 0, 0,
             3, 0, -6, 0, 0, 0, 0, 0]
    weights = [word16(*lanes[i:i + 4]) for i in range(0, 16, 4)]
    assert got == preamble + weights
    assert param_words(2, (3,), 1, 1, CFG4) == len(got)


def test_params_block_order_taps_bands_and_folds():
    # 3x3, 5 in channels (folds of 4 + 4 lanes), 5 out channels (2 out folds), 2 bands.
    rng = np.random.default_rng(2)
    w = rng.integers(-100, 100, size=(5, 5, 3, 3))
    words = pack_params(w, np.zeros(5, dtype=np.int64), np.zeros(5, dtype=np.int64), (5,), 2, CFG4)
    lanes = unpack_lanes(words[8:], 16)  # after 8 preamble entries (2 out folds x 4 rows)
    block = 9 * 2 * 4 * 2  # taps x S_f x p_oc x p_ic lanes per (o, b, f)
    assert lanes.size == 2 * 2 * 2 * block

    def lane(o, b, f, t, s, oc, ic):
        return lanes[((o * 2 + b) * 2 + f) * block + ((t * 2 + s) * 4 + oc) * 2 + ic]

    # out fold 1, band 1, in fold 0, tap (ky=2, kx=1), sub-fold 1, row 0, col 1: out ch 4, in ch 3
    assert lane(1, 1, 0, 7, 1, 0, 1) == w[4, 3, 2, 1]
    # in fold 1 holds channel 4 in lane 0 only
    assert lane(0, 0, 1, 4, 0, 2, 0) == w[2, 4, 1, 1]
    assert lane(0, 0, 1, 4, 0, 2, 1) == 0
    # rows past the 5 real outputs are zero
    assert lane(1, 0, 0, 0, 0, 1, 0) == 0


@pytest.mark.parametrize("cfg", [CFG4, HwConfig(), HwConfig(p_oc=16, p_ic=4, bits=8)])
@pytest.mark.parametrize("k", [1, 3])
def test_params_round_trip(cfg, k):
    rng = np.random.default_rng(3)
    lim = 1 << (cfg.bits - 1)
    for n_out, segs, bands in ((3, (5,), 1), (2 * cfg.p_oc + 1, (cfg.p_oc + 3, 7), 2), (cfg.p_oc, (1,), 3)):
        w = rng.integers(-lim, lim, size=(n_out, sum(segs), k, k))
        bias = rng.integers(-(1 << 47), 1 << 47, size=n_out)
        shifts = rng.integers(0, 64, size=n_out)
        words = pack_params(w, bias, shifts, segs, bands, cfg)
        assert words.size == param_words(n_out, segs, k, bands, cfg)
        w2, b2, s2 = unpack_params(words, n_out, segs, k, bands, cfg)
        assert np.array_equal(w2, w) and np.array_equal(b2, bias) and np.array_equal(s2, shifts)


def test_params_errors():
    w = np.zeros((2, 3, 3, 3), dtype=np.int64)
    z = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="segments"):
        pack_params(w, z, z, (2,), 1, CFG4)
    with pytest.raises(ValueError, match="weights"):
        pack_params(np.zeros((2, 3, 2, 2), dtype=np.int64), z, z, (3,), 1, CFG4)
    with pytest.raises(ValueError, match="weights"):
        pack_params(w + (1 << 15), z, z, (3,), 1, CFG4)
    with pytest.raises(ValueError, match="bias_entries"):
        pack_params(w, np.array([1 << 47, 0]), z, (3,), 1, CFG4)
    with pytest.raises(ValueError, match="shifts"):
        pack_params(w, z, np.array([64, 0]), (3,), 1, CFG4)
    with pytest.raises(ValueError, match="bias_entries"):
        pack_params(w, np.zeros(3, dtype=np.int64), z, (3,), 1, CFG4)
    with pytest.raises(ValueError, match="bands"):
        pack_params(w, z, z, (3,), 0, CFG4)
    words = pack_params(w + 1, z, z, (3,), 2, CFG4)
    with pytest.raises(ValueError, match="expected"):
        unpack_params(words[:-1], 2, (3,), 3, 2, CFG4)
    tampered = words.copy()
    tampered[-1] ^= np.uint64(1)
    with pytest.raises(ValueError, match="band 1"):
        unpack_params(tampered, 2, (3,), 3, 2, CFG4)


def test_conv_block_reads_by_hand():
    """5 out folds in groups of 3, 2 input folds, a 5-pixel map, double-buffered store: sequence 0
    streams its fold, and every later sequence's fold is read by the previous sequence's blocks 1 ..
    n - 1, one pixel every n - 1 output pixels (ceil: 3 then 2 of 5 over two blocks; all 5 over one)."""
    from zynqyolo.dse.packing import conv_block_reads

    got = list(conv_block_reads(5, 1, 2, 3, 5, True))
    assert got == [(0, 0, 0, True, 0, 0, None), (1, 0, 0, False, 3, 2, 1), (2, 0, 0, False, 2, 2, 1),
                   (0, 0, 1, False, 0, 0, None), (1, 0, 1, False, 3, 2, 0), (2, 0, 1, False, 2, 2, 0),
                   (3, 0, 0, False, 0, 0, None), (4, 0, 0, False, 5, 1, 1),
                   (3, 0, 1, False, 0, 0, None), (4, 0, 1, False, 0, 0, None)]
    # without the double buffer every sequence's first block streams, nobody prefetches
    assert [(own, pf) for *_, own, pf, _e, _n in conv_block_reads(5, 1, 2, 3, 5, False)] == [
        (True, 0), (False, 0), (False, 0)] * 2 + [(True, 0), (False, 0)] * 2
