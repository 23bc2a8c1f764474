// zy_conv.h: stage 1, the convolution engine.
//
// Design note
// - Dataflow process between read_input_stream (pixels of one input fold at a time) and stage 2
//   (exact partial sums). A call is a sequence of blocks (o, b, f): out fold o, band b of
//   band_rows output rows, input fold f (block_walker in zy_common.h; the input stream, this
//   stage, stage 2 and the parameter stream all follow this order).
// - MAC array p_oc x p_ic at II 1. The pipelined loop CONV_MAC iterates (output pixel, tap t,
//   sub-fold s), t = ky * ksize + kx, s over S_f = ceil(L_f / p_ic) groups of p_ic input lanes:
//   a 3x3 block takes pixels * 9 * S_f cycles, a 1x1 block pixels * S_f (native 1x1, no 3x3
//   padding). Each iteration multiplies one tap of p_ic input lanes by the p_oc x p_ic weight
//   slice (t, s) and adds into p_oc exact accumulators; after the last (t, s) of a pixel the
//   p_oc partial sums go to stage 2. The loop runs until its last (y, x, t, s): no trip count
//   product is computed.
// - Index arithmetic: counters, compares and adds only. The line-buffer slot of a row is a ring
//   counter relative to the block's first streamed row (each block refills the buffer), the
//   weight slice is a running address, the sub-fold's p_ic lanes are a one-hot select of the
//   pixel word. No run-time division, modulo or multiply in any loop.
// - Line buffer: ksize rows x max_width pixels x p_oc lanes, reshaped so one address holds a
//   whole pixel (one write per pixel, one read per tap). Reads run ahead of the window exactly
//   as far as needed: before output pixel (y, x) the buffer holds input up to (min(y + pad,
//   last row), min(x + pad, width - 1)) in raster order. The prefill (loop LINE_FILL) brings the
//   first pixel's window; inside CONV_MAC at most one pixel is read per iteration, in the first
//   two taps of a pixel (at most 1 + pad new pixels are needed per output pixel), so a new pixel
//   lands in the row of the window that is read last (ky = 2) and overwrites only the row above
//   the window. Zero padding outside the image is a mux, the stream carries only real rows. The
//   pixel read last is also kept in a register and taps at its position read the register: a
//   1x1 conv never reads the buffer, and a 3x3 tap reads a buffer address at least 6 iterations
//   after it was written, which is what DEPENDENCE inter false on the buffer declares.
// - A 1x1 out-group (block_walker): the later out folds of a group read the fold from the store
//   (the line buffer seen as line_rows x max_width pixels). Where the map fits half the store, the
//   store is a double buffer and those blocks stream the next sequence's fold into the other half,
//   one pixel every n - 1 output pixels, so the next group-first block computes from the store
//   instead of waiting on the stream (a 24-lane pixel is 6 bus words for 3 MAC cycles). CONV_MAC
//   makes one line-buffer read (the tap's position, or a 1x1 block's own store position) and at
//   most one write (the streamed pixel, own or prefetched) an iteration: the ram_s2p's two ports.
// - Weights: a double buffer of packed bus words, WPS = p_oc * p_ic / lanes_per_word bank words a
//   slice in WPS / G memories of G bank words (completely partitioned; G = weight_group, more
//   than one where that saves block RAM), each 2 * SLICES words deep: word j of slice (t, s) of
//   half h is bank word j % G of memory j / G, address h * SLICES + t * S + s. The loader takes
//   one word per cycle and stores a memory word every G, into the memory of a wrapping counter at
//   a running address (a write demux, one store port per memory); CONV_MAC reads all memories at
//   one address per cycle. Block n computes from half n & 1 while the
//   next block's words go into the other half, one word per CONV_MAC iteration; words that do not
//   fit under the compute (tiny images) load after it (loop WEIGHT_LOAD, which also loads the
//   first block). DEPENDENCE inter/intra false on the buffer: within a block the loader writes
//   only the half the MAC array does not read, and a half is read only after the loader has
//   finished it (the leftover WEIGHT_LOAD of the previous block completes before the next block
//   starts). The banks are bound by the design point (ZY_IMPL_WEIGHTS, usually LUTRAM).
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

#include <type_traits>

#include "zy_common.h"

namespace zy {

// Geometry of the weight double buffer: the WPS bank words of a slice (LPW (oc, ic) pairs each) in
// MEMS = WPS / G memories of G bank words a memory word (bank word j: memory j / G, entries
// (j % G) * LPW ..; G = weight_group, dse.blocks.WeightBuffer.group), each 2 * SLICES words deep.
// A direct block has k^2 * S slices (tap t, sub-fold s) at t * S + s; a Winograd block 16 * S
// (sub-fold s, position e) at s * 16 + e (zy_winograd.h).
template <class C>
struct wbuf_geom {
    static const int LPW = C::lanes_per_word;
    static const int WPS = C::p_oc * C::p_ic / LPW;  // bus words per (tap, sub-fold) slice
    static const int G = C::weight_group;            // bank words per memory word
    static const int MEMS = WPS / G;
    static const int WORD = G * LPW;                 // entries per memory word
    static const int SUB = C::p_oc / C::p_ic;        // sub-folds of a full fold
    static const int POSITIONS = C::winograd_engine ? 4 * (C::wino_tw + 2) : C::max_ksize * C::max_ksize;  // 16, 24 or 9
    static const int SLICES = POSITIONS * SUB;  // slices of a block, at most
    static const int DEPTH = 2 * SLICES;
    static_assert(C::p_oc * C::p_ic % C::lanes_per_word == 0, "a weight slice must be whole bus words");
    static_assert(WPS % G == 0, "a slice must be whole memory words");
};

// Bus words of one direct block's weights: k^2 * S slices of WPS words, by repeated addition (S <= p_oc / p_ic).
template <class C>
int weight_words(int ksize, int subfolds) {
    int slices = 0;
    for (int i = 0; i < C::p_oc / C::p_ic; i++) {
#pragma HLS UNROLL
        if (i < subfolds) slices += ksize == 3 ? 9 : 1;
    }
    return slices * wbuf_geom<C>::WPS;
}

// The weight-buffer writer of a direct block: one parameter word per call of load(), bank word
// `slot` of memory `mem` (wrapping counters) at the running address `addr`; the first G - 1 bank
// words of a memory word wait in `hold` (the caller's registers, partitioned there: an array
// member of a struct has no place for the pragma) and the G-th writes the whole word.
template <class C>
struct weight_loader {
    static const int G = wbuf_geom<C>::G;
    static const int LPW = wbuf_geom<C>::LPW;
    int slot, mem, addr;

    void start(int half) {
        slot = 0;
        mem = 0;
        addr = half ? wbuf_geom<C>::SLICES : 0;
    }

    void load(const typename C::word_t& w, typename C::wb_t hold[wbuf_geom<C>::WORD],
              typename C::wb_t buf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH]) {
#pragma HLS INLINE
        if (slot == G - 1) {
            for (int i = 0; i < wbuf_geom<C>::WORD; i++) {
#pragma HLS UNROLL
                buf[mem][i][addr] = i < (G - 1) * LPW ? hold[i] : typename C::wb_t(get_lane<C>(w, i - (G - 1) * LPW));
            }
            slot = 0;
            if (mem == wbuf_geom<C>::MEMS - 1) {
                mem = 0;
                addr++;
            } else {
                mem++;
            }
        } else {
            for (int l = 0; l < LPW; l++) {
#pragma HLS UNROLL
                hold[slot * LPW + l] = get_lane<C>(w, l);
            }
            slot++;
        }
    }
};

// The raster position of the line buffer's writer: the next input pixel goes to (row, col), row
// slot `slot` (ring counter, relative to the block's first streamed row); the pixel read last is
// also held in a register (taps at its position read the register).
struct line_writer {
    int row, col, slot;
    int newest_row, newest_col;
    int srow, scol;  // a 1x1 block's store position of the next pixel (the band's pixels in order)
};

// The next store position after (row, col) (the store: line_rows x max_width pixels in raster order).
template <class C>
void store_step(int& row, int& col) {
#pragma HLS INLINE
    if (col == C::max_width - 1) {
        col = 0;
        row++;
    } else {
        col++;
    }
}

// The raster and store positions after the pixel at the writer's position.
template <class C>
void advance(line_writer& wr, int ring, int width) {
#pragma HLS INLINE
    wr.newest_row = wr.row;
    wr.newest_col = wr.col;
    if (wr.col == width - 1) {
        wr.col = 0;
        wr.row++;
        wr.slot = wr.slot == ring - 1 ? 0 : wr.slot + 1;
    } else {
        wr.col++;
    }
    store_step<C>(wr.srow, wr.scol);
}

// The next input pixel of a block, into the newest-pixel register; the raster position advances. A
// block that streams its input reads the pixel from the stream and keeps it: at its slot of a ring
// of `ring` rows (3 for a direct 3x3 block, line_rows for a Winograd block), or, for a 1x1 block
// (ring 1), at the next store position (the store is the line buffer seen as line_rows x max_width
// pixels: a whole band of a map that fits, dse.registers). The later out folds of a group (1x1
// only) read the pixel back from the store.
template <class C>
void next_pixel(chan<pixel_t<C> >& pix, typename C::data_t line[C::line_rows][C::max_width][C::p_oc],
                pixel_t<C>& newest, line_writer& wr, int ring, int width, bool streamed) {
#pragma HLS INLINE
    const bool k1 = ring == 1;
    const int wslot = k1 ? wr.srow : wr.slot;
    const int wcol = k1 ? wr.scol : wr.col;
    if (streamed) {
        newest = checked_read(pix);
        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
            line[wslot][wcol][j] = newest.lane[j];
        }
    } else {
        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
            newest.lane[j] = line[wslot][wcol][j];
        }
    }
    advance<C>(wr, ring, width);
}

// Weight words [from, to) of a block that are not overlapped with compute.
template <class C>
void load_weights(hls::stream<axis_word_t<C> >& wts, weight_loader<C>& loader, typename C::wb_t hold[wbuf_geom<C>::WORD],
                  typename C::wb_t buf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH], int from, int to) {
WEIGHT_LOAD:
    for (int i = from; i < to; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=buf inter false
        ZY_COUNT(WEIGHT_LOAD);
        loader.load(checked_read(wts).data, hold, buf);
    }
}

// Operand and product types of the MAC array. A Winograd design multiplies U (wu_bits) by V (wv_bits)
// and its direct calls use the same multipliers (codes sign-extended), so the two loops can share
// one array (ALLOCATION in conv_stage); a direct design multiplies two codes.
template <class C>
struct mac_types {
    typedef typename std::conditional<C::winograd_engine, typename C::wv_t, typename C::data_t>::type x_t;
    typedef typename std::conditional<C::winograd_engine, typename C::wprod_t, typename C::prod_t>::type p_t;
};

// The weights of one slice for the MAC array: entry e = oc * p_ic + ic is bank word e / LPW, lane
// e % LPW, so entry j of memory m is e = m * WORD + j, all read at address `addr`.
template <class C>
void read_slice(typename C::wb_t w[C::p_oc * C::p_ic],
                typename C::wb_t buf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH], int addr) {
#pragma HLS INLINE
    for (int m = 0; m < wbuf_geom<C>::MEMS; m++) {
#pragma HLS UNROLL
        for (int j = 0; j < wbuf_geom<C>::WORD; j++) {
#pragma HLS UNROLL
            w[m * wbuf_geom<C>::WORD + j] = buf[m][j][addr];
        }
    }
}

// One p_oc x p_ic MAC step: sum[oc] = sum_ic w[oc][ic] * x[ic], exact.
template <class C>
void mac_sums(typename C::acc_t sum[C::p_oc], const typename C::wb_t w[C::p_oc * C::p_ic],
              const typename mac_types<C>::x_t x[C::p_ic]) {
#pragma HLS INLINE
    typedef typename mac_types<C>::p_t p_t;
    for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
        typename C::acc_t t = 0;
        for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
            const p_t p = (p_t)w[oc * C::p_ic + ic] * (p_t)x[ic];
            t += p;
        }
        sum[oc] = t;
    }
}

// One MAC step with each row's sum split at lane H = p_ic / 2: lo[oc] over lanes < H, hi[oc] over the
// rest, and full[oc] = lo + hi (the adder tree's last add); the Winograd path's paired steps use the
// halves (zy_winograd.h), every other step the full sums.
template <class C>
void mac_sums_split(typename C::acc_t full[C::p_oc], typename C::acc_t lo[C::p_oc], typename C::acc_t hi[C::p_oc],
                    const typename C::wb_t w[C::p_oc * C::p_ic], const typename mac_types<C>::x_t x[C::p_ic]) {
#pragma HLS INLINE
    typedef typename mac_types<C>::p_t p_t;
    const int H = C::p_ic / 2;
    for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
        typename C::acc_t a = 0, b = 0;
        for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
            const p_t p = (p_t)w[oc * C::p_ic + ic] * (p_t)x[ic];
            if (ic < H) {
                a += p;
            } else {
                b += p;
            }
        }
        lo[oc] = a;
        hi[oc] = b;
        full[oc] = a + b;
    }
}

// One step of the MAC array, the same for both paths: the p_oc row sums of the weight slice at `addr`
// against the p_ic operands x (codes on the direct path, V on the Winograd path).
template <class C>
void array_step(typename C::acc_t sums[C::p_oc],
                typename C::wb_t buf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH], int addr,
                const typename mac_types<C>::x_t x[C::p_ic]) {
#pragma HLS INLINE
    typename C::wb_t wslice[C::p_oc * C::p_ic];
#pragma HLS ARRAY_PARTITION variable=wslice complete
    read_slice<C>(wslice, buf, addr);
    mac_sums<C>(sums, wslice, x);
}

template <class C>
void conv_bypass(chan<pixel_t<C> >& pix, chan<psum_t<C> >& psum, const registers& r) {
    const int folds = fold_count<C>(r.in_channels_a);
    for (int f = 0; f < folds; f++) {
        int y = 0, x = 0;
    CONV_BYPASS:
        for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
            ZY_COUNT(CONV_BYPASS);
            const pixel_t<C> px = checked_read(pix);
            psum_t<C> ps;
            for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                ps.lane[j] = px.lane[j];
            }
            psum.write(ps);
            done = next_raster(x, y, (int)r.width - 1, (int)r.height - 1);
        }
    }
}

// The blocks of a direct call (see the design note): CONV_MAC over (pixel, tap, sub-fold).
template <class C>
void direct_blocks(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& wts, chan<psum_t<C> >& psum,
                   typename C::data_t line[C::line_rows][C::max_width][C::p_oc],
                   typename C::wb_t wbuf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH],
                   const registers& r) {
#pragma HLS INLINE
    typedef typename C::data_t data_t;
    typedef typename C::acc_t acc_t;
    typedef typename mac_types<C>::x_t x_t;
    const int SLICES = wbuf_geom<C>::SLICES;
    const int SUB = wbuf_geom<C>::SUB;  // sub-folds of a full input fold
    weight_loader<C> loader;
    typename C::wb_t hold[wbuf_geom<C>::WORD];  // the loader's first G - 1 bank words of a memory word
#pragma HLS ARRAY_PARTITION variable=hold complete

    const int k = r.ksize;
    const int kk = k == 3 ? 9 : 1;
    const int pad = k == 3 ? 1 : 0;
    const int w_img = r.width;
    const int h_img = r.height;

    block_walker<C> g;
    g.start(r);
    // First block's weights: nothing to overlap with yet.
    loader.start(0);
    load_weights<C>(wts, loader, hold, wbuf, 0, weight_words<C>(k, g.subfolds));

    int cur = 0;
    // The store halves (block_walker: a 1x1 out-group's double buffer), as store positions.
    const int HALF_ROW = block_walker<C>::STORE_HALF / C::max_width;
    const int HALF_COL = block_walker<C>::STORE_HALF % C::max_width;
    // The prefetch of the next sequence's fold: where its next pixel goes, its raster position, and
    // the pixel counter that spreads its reads over the sequence's n - 1 later blocks (one read
    // every n - 1 output pixels).
    int pf_row = 0, pf_col = 0, pf_x = 0, pf_y = 0, tick = 0;
    bool pf_done = true;
BLOCKS:
    for (bool last_block = false; !last_block;) {
        last_block = g.last();
        // The next block's weight words (0 after the last block).
        block_walker<C> nxt = g;
        nxt.next();
        const int next_words = last_block ? 0 : weight_words<C>(k, nxt.subfolds);
        loader.start(1 - cur);
        int loaded = 0;

        const int S = g.subfolds;
        // Where the next input pixel goes (a 1x1 block: its fold's store half).
        line_writer wr = {g.read0, 0, 0, -1, -1, g.half ? HALF_ROW : 0, g.half ? HALF_COL : 0};
        pixel_t<C> newest = pixel_t<C>();
        const bool streamed = g.own_stream();
        const bool pf = g.prefetches();
        if (pf && g.oi == 1) {  // the sequence's first later block: the next fold goes to the other half
            pf_row = g.half ? 0 : HALF_ROW;
            pf_col = g.half ? 0 : HALF_COL;
            pf_x = 0;
            pf_y = 0;
            tick = 0;
            pf_done = false;
        }

        // The newest input pixel the window of output pixel (y, x) needs: (ny, nx).
        int ny = imin(g.row0 + pad, g.read1 - 1);
        const int nx0 = imin(pad, w_img - 1);
    LINE_FILL:
        for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=1024
            ZY_COUNT(LINE_FILL);
            done = wr.row == ny && wr.col == nx0;
            next_pixel<C>(pix, line, newest, wr, k, w_img, streamed);
        }

        int y = g.row0, x = 0, t = 0, ky = 0, kx = 0, s = 0;
        int nx = nx0;
        // Line-buffer slot of input row y - pad, relative to read0 (y = row0: -1 when the band
        // starts at the top of a 3x3 image, i.e. slot 2).
        int base = g.row0 < pad ? k - pad : 0;
        const int slice0 = cur ? SLICES : 0;
        int raddr = slice0;
        acc_t acc[C::p_oc];
#pragma HLS ARRAY_PARTITION variable=acc complete
    CONV_MAC:
        for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=line inter false
#pragma HLS DEPENDENCE variable=wbuf inter false
#pragma HLS DEPENDENCE variable=wbuf intra false
#pragma HLS LOOP_TRIPCOUNT min=1 max=1557504
            ZY_COUNT(CONV_MAC);
            // Overlapped load of the next block's weights, one word per cycle.
            if (loaded < next_words) {
                loader.load(checked_read(wts).data, hold, wbuf);
                loaded++;
            }
            // Line-buffer fill: keep the input read up to the window's newest pixel (ny, nx).
            const bool behind = wr.row < ny || (wr.row == ny && wr.col <= nx);
            const bool own = t < 2 && behind && wr.row < g.read1;
            // The next fold's pixel, at the first iteration of every (n - 1)-th output pixel.
            const bool pf_now = pf && !pf_done && t == 0 && s == 0 && tick == 0;
            if (pf && t == 0 && s == 0) tick = tick == g.n - 2 ? 0 : tick + 1;
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
            const int slot_sum = base + ky;
            const int slot = slot_sum >= k ? slot_sum - k : slot_sum;
            const int col = inside ? ix : 0;
            // One line-buffer read and at most one write an iteration (ram_s2p): the read is the
            // store position of a 1x1 block's own pixel when it does not stream, else the tap's; the
            // write is a streamed pixel, the block's own or (prefetch) the next fold's.
            const bool from_store = own && !streamed;
            const bool take = (own && streamed) || pf_now;
            const int rrow = from_store ? wr.srow : slot;
            const int rcol = from_store ? wr.scol : col;
            data_t rd[C::p_oc];
#pragma HLS ARRAY_PARTITION variable=rd complete
            for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                rd[j] = line[rrow][rcol][j];
            }
            pixel_t<C> in = pixel_t<C>();
            if (take) {
                in = checked_read(pix);
                const int wrow = pf_now ? pf_row : k == 1 ? wr.srow : wr.slot;
                const int wcol = pf_now ? pf_col : k == 1 ? wr.scol : wr.col;
                for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                    line[wrow][wcol][j] = in.lane[j];
                }
            }
            if (own) {
                for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                    newest.lane[j] = streamed ? in.lane[j] : rd[j];
                }
                advance<C>(wr, k, w_img);
            }
            if (pf_now) {
                store_step<C>(pf_row, pf_col);
                pf_done = next_raster(pf_x, pf_y, w_img - 1, h_img - 1);
            }
            const bool fresh = iy == wr.newest_row && ix == wr.newest_col;
            x_t xin[C::p_ic];
#pragma HLS ARRAY_PARTITION variable=xin complete
            for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
                data_t v = 0;
                for (int sf = 0; sf < SUB; sf++) {  // the sub-fold's lanes of the pixel: a one-hot select
#pragma HLS UNROLL
                    if (sf == s) {
                        const int lane = sf * C::p_ic + ic;
                        v = fresh ? newest.lane[lane] : rd[lane];
                    }
                }
                xin[ic] = inside ? x_t(v) : x_t(0);
            }
            acc_t sums[C::p_oc];
#pragma HLS ARRAY_PARTITION variable=sums complete
            array_step<C>(sums, wbuf, raddr, xin);
            for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                acc[oc] += sums[oc];
            }
            const bool pixel_done = t == kk - 1 && s == S - 1;
            if (pixel_done) {
                psum_t<C> ps;
                for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                    ps.lane[oc] = acc[oc];
                }
                psum.write(ps);
            }
            done = pixel_done && x == w_img - 1 && y == g.row1 - 1;
            // Advance (s, t, x, y) and the addresses that follow them.
            if (pixel_done) {
                s = 0;
                t = 0;
                ky = 0;
                kx = 0;
                raddr = slice0;
                if (x == w_img - 1) {
                    x = 0;
                    nx = nx0;
                    y++;
                    if (ny < g.read1 - 1) ny++;
                    base = base == k - 1 ? 0 : base + 1;
                } else {
                    x++;
                    if (nx < w_img - 1) nx++;
                }
            } else {
                raddr++;
                if (s == S - 1) {
                    s = 0;
                    t++;
                    if (kx == k - 1) {
                        kx = 0;
                        ky++;
                    } else {
                        kx++;
                    }
                } else {
                    s++;
                }
            }
        }
        // Weight words of the next block that did not fit under this block's compute.
        load_weights<C>(wts, loader, hold, wbuf, loaded, next_words);
        cur = 1 - cur;
        g = nxt;
    }
}

}  // namespace zy

#endif  // ZY_CONV_H
