// zy_stage3.h: stage 3, one of bypass / max-pool 2x2 / upsample x2 / YOLO per call.
//
// Design note
// - Dataflow process between stage 2 (requantised pixels, fold by fold, bands in row order) and
//   write_output. Bands of one fold arrive consecutively and in row order, so stage 3 sees each
//   output fold as one height x width image and needs no band logic (the plan's even band_rows
//   for stride-2 pooling and single band for stride-1 pooling are therefore not needed here).
// - One pipelined loop STAGE3 per fold and mode at II 1, each iteration handling stage3_lanes
//   lanes of one pixel slot (ceil(L_o / stage3_lanes) iterations per slot, L_o = real lanes of
//   the fold): the pixel is read at its first group and written after its last.
//   * bypass, YOLO: one slot per pixel.
//   * max-pool stride 2 (darknet, size 2, padding right/bottom): one slot per input pixel;
//     output (i, j) = max of rows 2i..2i+1, cols 2j..2j+1 clipped to the image (cells outside
//     never win). The first max_width / 2 + 1 pixels of the row buffer hold the horizontal
//     maxima of the window's first row.
//   * max-pool stride 1: (height + 1) x (width + 1) slots, the extra row and column flush the
//     right/bottom windows; the row buffer holds the previous row's horizontal maxima.
//   * upsample x2 nearest: one slot per output pixel, the input pixel read at even row and
//     column; a row buffer replays the input row for the odd output row.
// - YOLO (model.fixed.SigmoidLut.apply, model.intref.yolo): channel c = o * p_oc + lane,
//   k = c mod yolo_period; k in {2, 3} (tw, th) passes the signed code, others read the sigmoid
//   table at index min(round_shift(|x|, yolo_shift), entries - 1) and give T[index] for x >= 0,
//   2^out_frac - T[index] for x < 0, as an unsigned lane code. The per-lane phase k is built once
//   per fold (loop YOLO_PHASE), so no divider sits in the datapath. The table is replicated, one
//   dual-port ROM per two lanes (SIGMOID_ROM[copies], the generated header), so the stage3_lanes
//   lookups of a cycle never share a port and the loop holds II 1.
// - Loops run until their last slot (counters and compares, no trip-count products). Each row
//   buffer is read and written in the same pipelined loop at addresses a row apart: an entry is
//   read again at least width + 1 >= 4 slots after it was written, more than the loop's depth
//   (a RAM read, a compare, a write: 3 cycles), hence DEPENDENCE inter false on every row buffer;
//   the same-slot read-then-write of max-pool stride 1 is an intra-iteration order the tool keeps.
//   The three modes share one row buffer [max_width][p_oc] (a call runs one mode), lanes cyclic by
//   stage3_lanes, bound by the design point (ZY_IMPL_ROWS).
// What breaks if a parameter is wrong: a yolo_shift that does not match the head's frac reads
//   the wrong table entries (results wrong, not unsafe); stage3_lanes must divide p_oc.
#ifndef ZY_STAGE3_H
#define ZY_STAGE3_H

#include "zy_common.h"

namespace zy {

template <class C>
typename C::data_t max_code(const typename C::data_t& a, const typename C::data_t& b) {
#pragma HLS INLINE
    return a > b ? a : b;
}

// model.fixed.SigmoidLut.apply for one code: the result is an unsigned code in the lane's bits.
template <class C>
typename C::data_t sigmoid_lane(const typename C::data_t& x, int shift, int copy) {
#pragma HLS INLINE
    typedef typename C::index_t index_t;
    const index_t ax = x < 0 ? index_t(-(index_t)x) : index_t(x);
    index_t idx;
    if (shift > 0) {
        idx = (ax >> shift) + ((ax >> (shift - 1)) & 1);
    } else {
        idx = ax << (-shift);
    }
    if (idx > C::sigmoid_entries - 1) idx = C::sigmoid_entries - 1;
    const typename C::code_t t = SIGMOID_ROM[copy][(int)idx];
    typename C::code_t y;
    if (x < 0) {
        y = (typename C::code_t)((1 << C::sigmoid_out_frac) - (int)t);
    } else {
        y = t;
    }
    return (typename C::data_t)y;
}

// Advance the (lane group g, column x, row y) counters of a stage-3 raster loop over pixels of
// ``groups`` lane groups each, with columns 0..last_x and rows 0..last_y; true at the last slot.
inline bool next_group(int& g, int& x, int& y, int groups, int last_x, int last_y) {
#pragma HLS INLINE
    if (g != groups - 1) {
        g++;
        return false;
    }
    g = 0;
    return next_raster(x, y, last_x, last_y);
}

template <class C>
void pointwise_fold(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, int h, int w, int groups, bool yolo,
                    const bool raw[C::p_oc], int shift) {
    const int SL = C::stage3_lanes;
#pragma HLS ARRAY_PARTITION variable=SIGMOID_ROM dim=1 complete
    ZY_BIND_STORAGE(SIGMOID_ROM, rom_2p, ZY_IMPL_SIGMOID)
    pixel_t<C> cur = pixel_t<C>(), res = pixel_t<C>();
    int g = 0, x = 0, y = 0;
STAGE3:
    for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=519168
        ZY_COUNT(STAGE3);
        if (g == 0) cur = checked_read(in);
        for (int j = 0; j < SL; j++) {
#pragma HLS UNROLL
            const int lane = g * SL + j;
            const typename C::data_t v = cur.lane[lane];
            res.lane[lane] = (yolo && !raw[lane]) ? sigmoid_lane<C>(v, shift, j / 2) : v;
        }
        if (g == groups - 1) out.write(res);
        done = next_group(g, x, y, groups, w - 1, h - 1);
    }
}

template <class C>
void maxpool2_fold(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, int h, int w, int groups,
                   typename C::data_t rowbuf[C::max_width][C::p_oc]) {
    const int SL = C::stage3_lanes;
    pixel_t<C> cur = pixel_t<C>(), hold = pixel_t<C>(), res = pixel_t<C>();
    int y = 0, x = 0, g = 0;
STAGE3:
    for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=rowbuf inter false
#pragma HLS LOOP_TRIPCOUNT min=1 max=519168
        ZY_COUNT(STAGE3);
        if (g == 0) cur = checked_read(in);
        const bool window_col_done = (x & 1) || x == w - 1;  // horizontal window complete
        const bool first_row = !(y & 1) && y != h - 1;      // first row of a two-row window
        const int j2 = x >> 1;
        for (int j = 0; j < SL; j++) {
#pragma HLS UNROLL
            const int lane = g * SL + j;
            const typename C::data_t hmax = (x & 1) ? max_code<C>(hold.lane[lane], cur.lane[lane]) : cur.lane[lane];
            if (!(x & 1)) hold.lane[lane] = cur.lane[lane];
            if (window_col_done) {
                if (first_row) {
                    rowbuf[j2][lane] = hmax;
                } else {
                    res.lane[lane] = (y & 1) ? max_code<C>(rowbuf[j2][lane], hmax) : hmax;
                }
            }
        }
        if (g == groups - 1) {
            if (window_col_done && !first_row) out.write(res);
        }
        done = next_group(g, x, y, groups, w - 1, h - 1);
    }
}

template <class C>
void maxpool1_fold(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, int h, int w, int groups,
                   typename C::data_t rowbuf[C::max_width][C::p_oc]) {
    const int SL = C::stage3_lanes;
    pixel_t<C> cur = pixel_t<C>(), prev = pixel_t<C>(), res = pixel_t<C>();
    int y = 0, x = 0, g = 0;
STAGE3:
    for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=rowbuf inter false
#pragma HLS LOOP_TRIPCOUNT min=1 max=519168
        ZY_COUNT(STAGE3);
        const bool in_row = y < h;
        const bool in_col = x < w;
        if (g == 0 && in_row && in_col) cur = checked_read(in);
        const bool emit = x >= 1 && y >= 1;
        for (int j = 0; j < SL; j++) {
#pragma HLS UNROLL
            const int lane = g * SL + j;
            if (x >= 1) {
                // Horizontal max of columns x-1, x of row y (column x is outside when x == w).
                const typename C::data_t hmax = in_col ? max_code<C>(prev.lane[lane], cur.lane[lane]) : prev.lane[lane];
                if (y >= 1) res.lane[lane] = in_row ? max_code<C>(rowbuf[x - 1][lane], hmax) : rowbuf[x - 1][lane];
                if (in_row) rowbuf[x - 1][lane] = hmax;
            }
            if (in_col) prev.lane[lane] = cur.lane[lane];
        }
        if (g == groups - 1) {
            if (emit) out.write(res);
        }
        done = next_group(g, x, y, groups, w, h);
    }
}

template <class C>
void upsample_fold(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, int h, int w, int groups,
                   typename C::data_t rowbuf[C::max_width][C::p_oc]) {
    const int SL = C::stage3_lanes;
    pixel_t<C> cur = pixel_t<C>(), res = pixel_t<C>();
    int y = 0, x = 0, g = 0;
STAGE3:
    for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=rowbuf inter false
#pragma HLS LOOP_TRIPCOUNT min=1 max=519168
        ZY_COUNT(STAGE3);
        const bool fresh = !(y & 1) && !(x & 1);  // first use of input pixel (y/2, x/2)
        if (g == 0 && fresh) cur = checked_read(in);
        const int xs = x >> 1;
        for (int j = 0; j < SL; j++) {
#pragma HLS UNROLL
            const int lane = g * SL + j;
            if (fresh) rowbuf[xs][lane] = cur.lane[lane];
            res.lane[lane] = fresh ? cur.lane[lane] : rowbuf[xs][lane];
        }
        if (g == groups - 1) {
            out.write(res);
        }
        done = next_group(g, x, y, groups, 2 * w - 1, 2 * h - 1);
    }
}

template <class C>
void stage3(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, const registers& r) {
    static_assert(checks<C>::ok, "configuration checks");
    const int SL = C::stage3_lanes;
    const int mode = r.stage3;
    const int h = r.height;
    const int w = r.width;
    const int period = r.yolo_period;
    const int shift = r.yolo_shift;
    int phase0 = 0;  // (o * p_oc) mod yolo_period
    // max-pool's and upsample's row buffer (one memory: a call runs one mode)
    typename C::data_t rowbuf[C::max_width][C::p_oc];
#pragma HLS ARRAY_PARTITION variable=rowbuf dim=2 factor=SL cyclic
    ZY_BIND_STORAGE(rowbuf, ram_s2p, ZY_IMPL_ROWS)
    for (fold_cursor c = first_fold<C>(r.out_channels); c.left > 0; next_fold<C>(c)) {
        const int groups = (c.lanes + SL - 1) / SL;
        bool raw[C::p_oc] = {};
#pragma HLS ARRAY_PARTITION variable=raw complete
        if (mode == STAGE3_YOLO) {
            int k = phase0;
        YOLO_PHASE:
            for (int j = 0; j < C::p_oc; j++) {
#pragma HLS PIPELINE II=1
                ZY_COUNT(YOLO_PHASE);
                raw[j] = k == 2 || k == 3;
                k = k + 1 == period ? 0 : k + 1;
            }
            phase0 = k;
        }
        if (mode == STAGE3_MAXPOOL && r.pool_stride == 2) {
            maxpool2_fold<C>(in, out, h, w, groups, rowbuf);
        } else if (mode == STAGE3_MAXPOOL) {
            maxpool1_fold<C>(in, out, h, w, groups, rowbuf);
        } else if (mode == STAGE3_UPSAMPLE) {
            upsample_fold<C>(in, out, h, w, groups, rowbuf);
        } else {
            pointwise_fold<C>(in, out, h, w, groups, mode == STAGE3_YOLO, raw, shift);
        }
    }
}

}  // namespace zy

#endif  // ZY_STAGE3_H
