// zy_accumulate.h: stage 2, accumulation over input folds, bias, activation, requantisation.
//
// Design note
// - Dataflow process between stage 1 (p_oc exact partial sums per output pixel and input fold)
//   and stage 3 (p_oc requantised codes per pixel).
// - First the preamble (loop BIAS_LOAD): out_folds * p_oc entries of (aligned bias, shift),
//   kept on chip for the whole call (max_out_folds * p_oc entries).
// - Per (group of out_group out folds, band b): loop ACC (II 1) over (input fold f, out fold o of
//   the group, band pixel p), the order stage 1 delivers them (block_walker; one out fold per group
//   but for 1x1 calls that reuse an input fold). With several input folds the band's partial sums
//   of the group's out folds live in the tile [tile_pixels][p_oc] of acc_bits, its lanes reshaped into
//   one p_oc * acc_bits word (every access reads or writes a whole pixel; out fold oi of the
//   group at oi * band pixels): fold 0 writes, later folds add (one pixel of p_oc lanes per
//   cycle), and the last fold adds its sums
//   on the fly and requantises them without writing back, requant_lanes lanes per cycle: a pixel
//   takes ceil(L_o / requant_lanes) cycles (groups) of the last fold, L_o = real lanes of the
//   output fold. Stage 1 delivers a pixel every k^2 * S cycles (S = p_oc / p_ic for a full input
//   fold), so requant_lanes = p_ic keeps pace with every full fold, and only the last fold pays
//   for fewer requantisers: p_oc full requantisers (about 1.1k LUT each, dse/blocks.py) are the
//   largest logic of the design otherwise. With one input fold there is no tile traffic: pixels
//   pass straight through. Partial sums never leave the chip. The tile's read-modify-write of
//   pixel p recurs `band pixels` iterations later (DEPENDENCE inter false): bands must be longer
//   than the tile RAM's read latency (2 pixels; YOLOv3-tiny's smallest band is a whole 13x13 map).
// - Requantisation is exactly model.fixed.requantize for one lane (see requantize below):
//   acc_b = acc + bias (acc_bits, two's complement); leaky and acc_b < 0: acc_b * 0xCCCD with
//   shift s + 19, else acc_b with shift s; one round-half-up shift; saturation to bits signed.
//   II 1 needs requant_lanes constant multipliers (one acc_bits x 17-bit product per requantiser).
// - F(4x2) designs (C::wino_tw == 4), Winograd calls: stage 1 sends 3 x each fold's partial sum
//   (zy_winograd.h "F(4x2) tiles"), a multiple of 3 whatever the folds add; the last fold divides
//   the call's sum by 3 exactly before the bias (div3_exact at wd_bits, where the direct sum of a
//   whole call fits), on the requant_lanes lanes only.
// - conv_enable = 0: loop ACC_BYPASS forwards stage 1's pass-through pixels.
// What breaks if a parameter is wrong: band_rows * width > tile_pixels with several input folds
//   overflows the tile (registers are checked before a csim call; the plan must guarantee it
//   on hardware); a requantisation shift above 63 does not fit the 6-bit entry field.
#ifndef ZY_ACCUMULATE_H
#define ZY_ACCUMULATE_H

#include "zy_common.h"

namespace zy {

// Round-half-up right shift of v by r >= 0 without overflow: floor(v / 2^r) + bit (r - 1) of v.
// Equal to (v + 2^(r-1)) >> r of model.fixed.round_shift wherever that sum fits 64 bits.
template <class C>
typename C::wide_t round_half_up(const typename C::wide_t& v, int r) {
#pragma HLS INLINE
    if (r == 0) return v;
    const int hi = imin(r, 63);
    const int lo = imin(r - 1, 63);
    typename C::wide_t q = v >> hi;
    typename C::wide_t half = (v >> lo) & 1;
    return q + half;
}

// model.fixed.requantize for one lane: acc_b is the biased accumulator (acc_bits wide).
template <class C>
typename C::data_t requantize(const typename C::acc_t& acc_b, const typename C::shift_t& shift, bool leaky) {
#pragma HLS INLINE
    typedef typename C::wide_t wide_t;
    wide_t v;
    int r = shift;
    if (leaky && acc_b < 0) {
        const wide_t prod = (wide_t)acc_b * (wide_t)C::leaky_mul;
        // Constant multiply in LUTs, not DSP48s (dse/blocks.py LEAKY_MUL_IMPL = "fabric": about 180
        // LUTs a lane against 2-3 DSP48s, measured with dse/rtl). Vitis HLS form; Vivado HLS 2019.1
        // has no BIND_OP (its equivalent is RESOURCE variable=prod core=Mul_LUT).
#pragma HLS BIND_OP variable=prod op=mul impl=fabric
        v = prod;
        r += C::leaky_shift;
    } else {
        v = acc_b;
    }
    const wide_t y = round_half_up<C>(v, r);
    const wide_t max_code = (wide_t)((1 << (C::bits - 1)) - 1);
    const wide_t min_code = (wide_t)(-(1 << (C::bits - 1)));
    if (y > max_code) return (typename C::data_t)max_code;
    if (y < min_code) return (typename C::data_t)min_code;
    return (typename C::data_t)y;
}

template <class C>
void accumulate_bypass(chan<psum_t<C> >& psum, chan<pixel_t<C> >& out, const registers& r) {
    const int pixels = fold_count<C>(r.in_channels_a) * r.height * r.width;
ACC_BYPASS:
    for (int i = 0; i < pixels; i++) {
#pragma HLS PIPELINE II=1
        ZY_COUNT(ACC_BYPASS);
        const psum_t<C> ps = checked_read(psum);
        pixel_t<C> px;
        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
            px.lane[j] = (typename C::data_t)ps.lane[j];
        }
        out.write(px);
    }
}

template <class C>
void accumulate_stage(chan<psum_t<C> >& psum, chan<param_t<C> >& params,
                      chan<pixel_t<C> >& out, const registers& r) {
    static_assert(checks<C>::ok, "configuration checks");
    typedef typename C::acc_t acc_t;
    if (!r.conv_enable) {
        accumulate_bypass<C>(psum, out, r);
        return;
    }
    const int out_folds = r.out_folds;
    const bool leaky = r.leaky;

    const int RL = C::requant_lanes;
    // F(4x2) calls: stage 1 sends 3 x each fold's partial sum (Y / 16), so the call's sum is divided
    // by 3 here, exactly, on requant_lanes lanes instead of p_oc output rows (div3_exact at wd_bits).
    const bool div3 = C::wino_tw == 4 && r.winograd;
    acc_t bias[C::max_out_folds][C::p_oc];
#pragma HLS ARRAY_PARTITION variable=bias dim=2 complete
    ZY_BIND_STORAGE(bias, ram_s2p, ZY_IMPL_BIAS)
    typename C::shift_t shift[C::max_out_folds][C::p_oc];
#pragma HLS ARRAY_PARTITION variable=shift dim=2 complete
    ZY_BIND_STORAGE(shift, ram_s2p, ZY_IMPL_BIAS)
    int bo = 0, bl = 0;
BIAS_LOAD:
    for (int i = 0; i < out_folds * C::p_oc; i++) {
#pragma HLS PIPELINE II=1
        ZY_COUNT(BIAS_LOAD);
        const param_t<C> e = checked_read(params);
        bias[bo][bl] = e.bias;
        shift[bo][bl] = e.shift;
        if (bl == C::p_oc - 1) {
            bl = 0;
            bo++;
        } else {
            bl++;
        }
    }

    acc_t tile[C::tile_pixels][C::p_oc];  // lanes reshaped into one word: a pixel is one read and one write
#pragma HLS ARRAY_RESHAPE variable=tile dim=2 complete
    ZY_BIND_STORAGE(tile, ram_s2p, ZY_IMPL_TILE)
    const int in_folds = fold_count<C>(r.in_channels_a) + fold_count<C>(r.in_channels_b);
    const int w_img = r.width;
    const int h_img = r.height;
    const int group = r.out_group;
    fold_cursor c0 = first_fold<C>(r.out_channels);  // the group's first out fold
    for (int o0 = 0; o0 < out_folds; o0 += group) {
        const int n = imin(group, out_folds - o0);  // out folds of this group
        int row0 = 0;
        for (int b = 0; b < (int)r.bands; b++) {
            const int rows = imin(h_img, row0 + (int)r.band_rows) - row0;
            // (input fold f, out fold o = o0 + oi of the group, band pixel p = (y, x), requantiser
            // group g); tp = oi * band pixels + p, the pixel's tile address (counted).
            int f = 0, oi = 0, o = o0, g = 0, tp = 0, x = 0, y = 0;
            fold_cursor c = c0;
            // requantiser groups of out fold o: its real lanes, requant_lanes at a time
            int groups = (c.lanes + RL - 1) / RL;
            acc_t sums[C::p_oc];  // the last fold's sums of the pixel being requantised
#pragma HLS ARRAY_PARTITION variable=sums complete
            pixel_t<C> px = pixel_t<C>();  // lanes beyond groups * RL stay 0
        ACC:
            for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=tile inter false
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
                ZY_COUNT(ACC);
                const bool last = f == in_folds - 1;
                if (g == 0) {
                    const psum_t<C> ps = checked_read(psum);
                    for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                        const acc_t sum = f == 0 ? ps.lane[j] : acc_t(tile[tp][j] + ps.lane[j]);
                        if (last) {
                            sums[j] = sum;
                        } else {
                            tile[tp][j] = sum;
                        }
                    }
                }
                if (last) {
                    for (int j = 0; j < RL; j++) {
#pragma HLS UNROLL
                        const int lane = g * RL + j;
                        typedef typename C::wd_t wd_t;
                        const acc_t sum = div3 ? acc_t(div3_exact<wd_t, C::wd_bits>(wd_t(sums[lane]))) : sums[lane];
                        px.lane[lane] = requantize<C>(wrap_acc<C>(sum + bias[o][lane]), shift[o][lane], leaky);
                    }
                    if (g == groups - 1) out.write(px);
                }
                const bool band_pixel_last = x == w_img - 1 && y == rows - 1;
                done = last && g == groups - 1 && band_pixel_last && oi == n - 1;
                if (last && g < groups - 1) {
                    g++;
                } else {
                    g = 0;
                    tp++;
                    if (band_pixel_last) {
                        x = 0;
                        y = 0;
                        if (oi + 1 < n) {  // the group's next out fold
                            oi++;
                            o++;
                            next_fold<C>(c);
                        } else {  // the next input fold, from the group's first out fold
                            oi = 0;
                            o = o0;
                            c = c0;
                            tp = 0;
                            f++;
                        }
                        groups = (c.lanes + RL - 1) / RL;
                        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                            px.lane[j] = 0;
                        }
                    } else {
                        if (x == w_img - 1) {
                            x = 0;
                            y++;
                        } else {
                            x++;
                        }
                    }
                }
            }
            row0 += r.band_rows;
        }
        for (int i = 0; i < n; i++) next_fold<C>(c0);
    }
}

}  // namespace zy

#endif  // ZY_ACCUMULATE_H
