// zy_conv.h: stage 1, the convolution engine.
//
// Design note
// - Dataflow process between read_input_stream (pixels of one input fold at a time) and stage 2
//   (exact partial sums). A call is a sequence of blocks (o, b, f): out fold o, band b of
//   band_rows output rows, input fold f (make_block in zy_common.h gives their geometry; the
//   input stream, this stage, stage 2 and the parameter stream all follow this order).
// - MAC array p_oc x p_ic at II 1. The pipelined loop CONV_MAC iterates (output pixel, tap t,
//   sub-fold s), t = ky * ksize + kx, s over S_f = ceil(L_f / p_ic) groups of p_ic input lanes:
//   a 3x3 block takes pixels * 9 * S_f cycles, a 1x1 block pixels * S_f (native 1x1, no 3x3
//   padding). Each iteration multiplies one tap of p_ic input lanes by the p_oc x p_ic weight
//   slice [t][s] and adds into p_oc exact accumulators; after the last (t, s) of a pixel the
//   p_oc partial sums go to stage 2.
// - Line buffer: ksize rows x max_width pixels x p_oc lanes, row r in slot r % ksize. Reads run
//   ahead of the window exactly as far as needed: before output pixel (y, x) the buffer holds
//   input up to (min(y + pad, last row), min(x + pad, width - 1)) in raster order. The prefill
//   (loop LINE_FILL) brings the first pixel's window; inside CONV_MAC at most one pixel is read
//   per iteration, in the first two taps of a pixel (at most 1 + pad new pixels are needed per
//   output pixel), so a new pixel lands in the row of the window that is read last (ky = 2) and
//   overwrites only the row above the window. Zero padding outside the image is a mux, the
//   stream carries only real rows. The buffer is reshaped so one address holds a whole pixel
//   (one write per pixel, one read per tap). The pixel read last is also kept in a register
//   and taps at its position read the register: a 1x1 conv never reads the buffer, and a 3x3
//   tap reads a buffer address at least 6 iterations after it was written, which is what
//   DEPENDENCE inter false on the buffer declares.
// - Weights: double buffer [2][ksize^2 * S_max][p_oc][p_ic], the last two dims fully
//   partitioned. Block n computes from buffer n & 1 while the next block's words are loaded
//   into the other one, one word per CONV_MAC iteration; words that do not fit under the
//   compute (tiny images) load after it (loop WEIGHT_LOAD, which also loads the first block).
// - Parameter stream `wts`: first out_folds * p_oc preamble entries (bias, shift), forwarded to
//   stage 2 (loop PREAMBLE); then, per block (o, b, f), for t, s, oc, ic the weight code of
//   output channel o * p_oc + oc and input lane s * p_ic + ic of fold f, lanes_per_word per word.
// - conv_enable = 0: the stage forwards the input pixels unchanged (codes sign-extended into
//   the partial-sum lanes, loop CONV_BYPASS); stage 2 passes them on to stage 3.
// What breaks if a parameter is wrong: band_rows * width above tile_pixels with several input
//   folds overflows the stage-2 tile (the register check refuses it); a weight stream shorter
//   than the block sequence stalls the engine (csim reports reads from an empty stream).
#ifndef ZY_CONV_H
#define ZY_CONV_H

#include "zy_common.h"

namespace zy {

template <class C>
int weight_words(int ksize, int subfolds) {
    return ksize * ksize * subfolds * (C::p_oc * C::p_ic / C::lanes_per_word);
}

// The weight-buffer writer: unpacks parameter words into one half of the double buffer, entry by
// entry in (t, s, oc, ic) order.
template <class C>
struct weight_loader {
    static const int slices = C::max_ksize * C::max_ksize * (C::p_oc / C::p_ic);
    int ts, oc, ic;

    void start() {
        ts = 0;
        oc = 0;
        ic = 0;
    }

    void load(const typename C::word_t& w, typename C::weight_t buf[slices][C::p_oc][C::p_ic]) {
#pragma HLS INLINE
        for (int j = 0; j < C::lanes_per_word; j++) {
#pragma HLS UNROLL
            buf[ts][oc][ic] = get_lane<C>(w, j);
            if (ic == C::p_ic - 1) {
                ic = 0;
                if (oc == C::p_oc - 1) {
                    oc = 0;
                    ts++;
                } else {
                    oc++;
                }
            } else {
                ic++;
            }
        }
    }
};

// The raster position of the line buffer's writer: the next input pixel goes to (row, col); the
// pixel read last is also held in a register (taps at its position read the register).
struct line_writer {
    int row, col, reads;
    int newest_row, newest_col;
};

// Read the next input pixel of the band into the line buffer (row slot row % ksize) and the
// newest-pixel register, and advance the raster position.
template <class C>
void read_pixel(chan<pixel_t<C> >& pix, typename C::data_t line[C::max_ksize][C::max_width][C::p_oc],
                pixel_t<C>& newest, line_writer& wr, int ksize, int width) {
#pragma HLS INLINE
    newest = checked_read(pix);
    wr.newest_row = wr.row;
    wr.newest_col = wr.col;
    for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
        line[wr.row % ksize][wr.col][j] = newest.lane[j];
    }
    wr.reads++;
    if (wr.col == width - 1) {
        wr.col = 0;
        wr.row++;
    } else {
        wr.col++;
    }
}

// Weight words [from, to) of a block that are not overlapped with compute.
template <class C>
void load_weights(hls::stream<axis_word_t<C> >& wts, weight_loader<C>& loader,
                  typename C::weight_t buf[weight_loader<C>::slices][C::p_oc][C::p_ic], int from, int to) {
WEIGHT_LOAD:
    for (int i = from; i < to; i++) {
#pragma HLS PIPELINE II=1
        ZY_COUNT(WEIGHT_LOAD);
        loader.load(checked_read(wts).data, buf);
    }
}

// One p_oc x p_ic MAC step: acc[oc] += sum_ic w[oc][ic] * x[ic], exact.
template <class C>
void mac_step(typename C::acc_t acc[C::p_oc], const typename C::weight_t w[C::p_oc][C::p_ic],
              const typename C::data_t x[C::p_ic]) {
#pragma HLS INLINE
    for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
        typename C::acc_t sum = acc[oc];
        for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
            const typename C::prod_t p = w[oc][ic] * x[ic];
            sum += p;
        }
        acc[oc] = sum;
    }
}

template <class C>
void conv_bypass(chan<pixel_t<C> >& pix, chan<psum_t<C> >& psum, const registers& r) {
    const int pixels = fold_count<C>(r.in_channels_a) * r.height * r.width;
CONV_BYPASS:
    for (int i = 0; i < pixels; i++) {
#pragma HLS PIPELINE II=1
        ZY_COUNT(CONV_BYPASS);
        const pixel_t<C> px = checked_read(pix);
        psum_t<C> ps;
        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
            ps.lane[j] = px.lane[j];
        }
        psum.write(ps);
    }
}

template <class C>
void conv_stage(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& wts, chan<param_t<C> >& params,
                chan<psum_t<C> >& psum, const registers& r) {
    static_assert(checks<C>::ok, "configuration checks");
    typedef typename C::data_t data_t;
    typedef typename C::acc_t acc_t;
    typedef typename C::weight_t weight_t;
    const int SLICES = weight_loader<C>::slices;
    const int ENTRIES_PER_WORD = C::bus_bits / C::entry_bits;

    if (!r.conv_enable) {
        conv_bypass<C>(pix, psum, r);
        return;
    }

    const int out_folds = r.out_folds;
PREAMBLE:
    for (int i = 0; i < out_folds * C::p_oc / ENTRIES_PER_WORD; i++) {
#pragma HLS PIPELINE II=1
        ZY_COUNT(PREAMBLE);
        const typename C::word_t w = checked_read(wts).data;
        for (int j = 0; j < ENTRIES_PER_WORD; j++) {
            params.write(decode_entry<C>(get_entry<C>(w, j)));
        }
    }

    data_t line[C::max_ksize][C::max_width][C::p_oc];
#pragma HLS ARRAY_RESHAPE variable=line dim=3 complete
    weight_t wbuf[2][SLICES][C::p_oc][C::p_ic];
#pragma HLS ARRAY_PARTITION variable=wbuf dim=3 complete
#pragma HLS ARRAY_PARTITION variable=wbuf dim=4 complete
    weight_loader<C> loader;

    const int k = r.ksize;
    const int kk = k * k;
    const int pad = k / 2;
    const int w_img = r.width;
    const int h_img = r.height;
    const int bands = r.bands;
    const int in_folds = in_fold_count<C>(r.in_channels_a, r.in_channels_b);
    const int blocks = out_folds * bands * in_folds;

    // First block's weights: nothing to overlap with yet.
    loader.start();
    load_weights<C>(wts, loader, wbuf[0], 0, weight_words<C>(k, make_block<C>(r, 0, 0).subfolds));

    int b = 0, f = 0;
BLOCKS:
    for (int n = 0; n < blocks; n++) {
        const block_geom g = make_block<C>(r, b, f);
        const int cur = n & 1;
        // The next block's fold and its weight words (0 after the last block).
        const int f_next = f + 1 == in_folds ? 0 : f + 1;
        const int b_next = f + 1 == in_folds ? (b + 1 == bands ? 0 : b + 1) : b;
        const int next_words = n + 1 < blocks ? weight_words<C>(k, make_block<C>(r, b_next, f_next).subfolds) : 0;
        loader.start();
        int loaded = 0;

        const int S = g.subfolds;
        const int rows_in = g.read1 - g.read0;
        const int total_reads = rows_in * w_img;
        // Where the next input pixel goes, and how many of the band's streamed pixels were read.
        line_writer wr = {g.read0, 0, 0, -1, -1};
        pixel_t<C> newest = pixel_t<C>();

        const int need0 = (imin(g.row0 + pad, g.read1 - 1) - g.read0) * w_img + imin(pad, w_img - 1);
    LINE_FILL:
        for (int i = 0; i <= need0; i++) {
#pragma HLS PIPELINE II=1
            ZY_COUNT(LINE_FILL);
            read_pixel<C>(pix, line, newest, wr, k, w_img);
        }

        const int iters = (g.row1 - g.row0) * w_img * kk * S;
        int y = g.row0, x = 0, t = 0, ky = 0, kx = 0, s = 0;
        acc_t acc[C::p_oc];
#pragma HLS ARRAY_PARTITION variable=acc complete
    CONV_MAC:
        for (int i = 0; i < iters; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=line inter false
#pragma HLS LOOP_TRIPCOUNT min=1 max=1557504
            ZY_COUNT(CONV_MAC);
            // Overlapped load of the next block's weights, one word per cycle.
            if (loaded < next_words) {
                loader.load(checked_read(wts).data, wbuf[1 - cur]);
                loaded++;
            }
            // Line-buffer fill: keep the input read up to the window's newest pixel.
            const int need = (imin(y + pad, g.read1 - 1) - g.read0) * w_img + imin(x + pad, w_img - 1);
            if (t < 2 && wr.reads <= need && wr.reads < total_reads) {
                read_pixel<C>(pix, line, newest, wr, k, w_img);
            }
            if (t == 0 && s == 0) {
                for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                    acc[oc] = 0;
                }
            }
            // One tap, one sub-fold: p_ic input lanes (zero outside the image).
            const int iy = y + ky - pad;
            const int ix = x + kx - pad;
            const bool inside = iy >= 0 && iy < h_img && ix >= 0 && ix < w_img;
            const bool fresh = iy == wr.newest_row && ix == wr.newest_col;
            data_t xin[C::p_ic];
#pragma HLS ARRAY_PARTITION variable=xin complete
            const int slot = inside ? iy % k : 0;
            const int col = inside ? ix : 0;
            for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
                const int lane = s * C::p_ic + ic;
                xin[ic] = !inside ? data_t(0) : fresh ? newest.lane[lane] : line[slot][col][lane];
            }
            mac_step<C>(acc, wbuf[cur][t * S + s], xin);
            if (t == kk - 1 && s == S - 1) {
                psum_t<C> ps;
                for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                    ps.lane[oc] = acc[oc];
                }
                psum.write(ps);
            }
            // Advance (s, t, x, y).
            if (s == S - 1) {
                s = 0;
                if (t == kk - 1) {
                    t = 0;
                    ky = 0;
                    kx = 0;
                    if (x == w_img - 1) {
                        x = 0;
                        y++;
                    } else {
                        x++;
                    }
                } else {
                    t++;
                    if (kx == k - 1) {
                        kx = 0;
                        ky++;
                    } else {
                        kx++;
                    }
                }
            } else {
                s++;
            }
        }
        // Weight words of the next block that did not fit under this block's compute.
        load_weights<C>(wts, loader, wbuf[1 - cur], loaded, next_words);
        if (f + 1 == in_folds) {
            f = 0;
            b = b + 1 == bands ? 0 : b + 1;
        } else {
            f++;
        }
    }
}

}  // namespace zy

#endif  // ZY_CONV_H
