// zy_winograd.h: stage 1's Winograd path, F(2x2, 3x3) or F(4x2, 3x3) in exact integers (model/winograd.py).
//
// Design note
// - A Winograd design (HwConfig.conv_engine "winograd", C::winograd_engine) runs a conv call on this
//   path when the plan sets its `winograd` register: ksize 3 (stride 1) and width >= wino_min_width.
//   1x1 calls and narrow maps take the direct path (zy_conv.h) on the same MAC array and weight
//   buffer. The blocks (o, b, f) and the input stream are those of the direct path.
// - Arithmetic (exact, so the psums equal the direct path's bit for bit): the 2x2 output tile at
//   (y0, x0) is Y = A^T [sum_c U_c (.) V_c] A / 4 with U = (2G) g (2G)^T (wu_bits) and V = B^T d B
//   (wv_bits) of the 4x4 input window d at rows y0-1.., columns x0-1..; A^T M A is exactly 4 times
//   the direct sum, so the shift by 2 is exact. |U| <= 9 * 2^(bits-1), |V| <= 2^(bits+1).
// - Loop CONV_WINO (II 1) iterates (tile, sub-fold s, position e = 4i + j), e innermost: a tile
//   takes 16 * S cycles for 4 output pixels (9 * S per pixel on the direct path); the 16 iterations
//   of one (tile, s) are a span. Each iteration the MAC array multiplies U[e] of the (s, e) slice
//   (p_oc x p_ic entries, at s * 16 + e in the weight buffer) by V[e] of p_ic lanes;
//   the p_oc row sums go straight into the output transform: Y[q][oc] += a(e, q) * sum[oc] with
//   a(e, (r, c)) = A^T[r][i] * A^T[c][j] in {-1, 0, 1}, four accumulators per lane (wy_bits wide).
//   At the tile's last iteration Y / 4 is latched into four emit registers per lane; the next tile
//   writes those pixels to stage 2 at its iterations 0, 4, 8 and 12 (the block's last tile in loop
//   WINO_DRAIN), so pixels leave at the pace they are made. Only pixels inside the band and the image are written: the tile grid is padded
//   (odd widths and band heights), the extra outputs dropped.
// - Output order (TILE ORDER): per tile row (band rows y0, y0 + 1), per tile, (0,0) (0,1) (1,0) (1,1).
//   Stage 2 does not care (it counts pixels); the detile process (zy_detile.h) turns it into what
//   stage 3 needs: one pooled pixel per tile for a 2x2 stride-2 max-pool, raster order otherwise.
// - Line buffer: a ring of line_rows = 6 rows (slot = (row - read0 + base) mod 6, counted). While tile row
//   ty (window rows y0-1 .. y0+2) computes, rows y0+3 and y0+4 stream in, one pixel at a tile's
//   iterations 0, 4, 8 and 12, paced so that after tile tx at least min(2w, 4(tx + 1)) of their
//   pixels are in (4 * ceil(w/2) >= 2w: both rows are complete at the row's last tile). LINE_FILL
//   prefills the band's first window rows (up to row r0 + 2). The block's last tile row streams
//   nothing of its own (its rows y0 + 3.. are past read1), so at the same pace it streams the next
//   block's rows read0', read0' + 1 (the stream carries the blocks back to back) into the two slots
//   after its window: at the tile row's first pixel slot the one line writer `wr` moves on to the
//   next block's row read0' at slot `nbase` (one write port, one stream read site), and the next
//   block's ring starts there (`base`, the slot of its row read0) with that writer, its LINE_FILL
//   reading only what is left (a while loop: nothing when the prefill covered it). The move loses
//   nothing: by the end of tile row last_ty - 1 the writer has reached min(read1, r0 + 1 + 2 *
//   ceil((r1 - r0) / 2)) = read1 (and a band of one tile row has only its LINE_FILL). Those slots
//   hold no row the last tile row reads: its window is rows y0 - 1 .. y0 + 2, slots top_slot ..
//   top_slot + 3; the fetch of the (nonexistent) next tile row reads them only outside read1, where
//   the pixel is zero.
// - Window: a span's 4x4 pixels of p_ic lanes only (sub-fold s), in registers `win`, double
//   buffered: while a span computes, its 16 iterations fetch the next span's window from the line
//   buffer into `nw`, pixel e at iteration e (one read a cycle, the lanes of the next sub-fold
//   selected at the read: wino_fetch), and the next span's first iteration copies `nw` into `win`.
//   The next span is sub-fold s + 1 of the tile, else sub-fold 0 of tile tx + 1 (columns
//   x0 + 1 .. x0 + 4), else the next tile row's first tile (rows y0 + 1 .. y0 + 4, columns -1 .. 2);
//   WINO_PRELOAD fetches the block's first. No window of p_oc lanes, no column shifts: the window
//   is 32 x p_ic registers and one p_ic-lane select. Zero padding (outside the image, rows not
//   streamed) is a mux at the fetch.
//   Hazard distance: every line-buffer address is read in a later tile than the one that wrote it
//   (at least 8 iterations after the write), provided width >= 7 (then the last tile's fetch of the
//   next row's columns 0..2 reads pixel w + 2 of the two streamed rows at most, written in tile
//   (w + 2) / 4 < ceil(w / 2) - 1): DEPENDENCE inter false on the buffer, and the plan uses this
//   path only for width >= wino_min_width (the register check refuses less).
// - Data transform per iteration, for the p_ic lanes of the span's window: row combination by i,
//   then column combination by j (B^T rows: x0 - x2, x1 + x2, x2 - x1, x1 - x3): adders and 4:1
//   operand muxes, no multiplier.
// - Filter transform in the PL (wino_loader): the parameter stream carries the 9 raw tap words of
//   each (sub-fold s, bank word j) together (dse.packing, order (s, j, t)); 9 words in, U for the
//   word's lanes_per_word (oc, ic) pairs by additions; the U of the G bank words of one memory
//   word (zy_conv.h) are kept, then 16 memory words out, one buffer write per iteration (memory
//   j / G, address half + s * 16 + e). A block's load is (9 G + 7) * S * WPS / G + 10 steps, one per
//   iteration, overlapped with the previous block's CONV_WINO; what does not fit runs in WINO_LOAD
//   (so does the whole first block's). 9 of 16 steps read a word when G = 1: the raw stream is 9/16
//   of the U entries written, which is why transformed filters are never streamed (16/9 the words,
//   and wider).
// - Paired positions (C::wino_pair, a "winograd-paired" design; register winograd = WINO_PAIRED): a
//   call whose one input has at most H = p_ic / 2 channels (layer 0's 3) would leave most lanes idle.
//   Its lanes ic >= H carry the channels ic - H again (a mux at the fetch) and the parameter stream
//   gives them the 180-degree-rotated filters (dse.packing), whose U is U with rows 0, 3 and columns
//   0, 3 swapped (sigma): the loader is unchanged. Each MAC row's sum splits at lane H (lo, hi; the
//   full sum is lo + hi). Step k of a tile reads weight slice e = pair_position(k) and computes the
//   low lanes' V at e = (i, j), the high lanes' at (sigma(i), sigma(j)), where the high lanes' U
//   is U[sigma(i)][sigma(j)]. Steps 0-5 pair (0, j) with (3, sigma(j)) and (1|2, 0) with (1|2, 3):
//   their A^T coefficients touch disjoint output pixels (rows 0 / 1, or columns 0 / 1), so each of the
//   four accumulators adds lo or hi, never both; steps 6-9 are the middle positions (1|2, 1|2), which
//   touch every pixel, with the high lanes' V zero. A tile takes PAIR_STEPS = 10 iterations, 4 pixels
//   in and out at k = 0, 2, 4, 6; the next tile's window keeps this one's columns 2, 3 as its 0, 1
//   (nw shifts at k = 0) and fetches 8 pixels at k < 8. The tile row's last tile runs 16 iterations
//   (k >= 10 with all V zero) to fetch the next tile row's whole window. The fetch reads rows the
//   previous tile row streamed, so the hazard distance is as above.
// - F(4x2) tiles (C::wino_tw == 4, a "winograd-4x2" design, 8 bits; model/winograd.py): a tile is 4
//   columns by 2 rows, from a 4 x 6 window (rows y0-1.., columns x0-1..), F(4,3) across (24 G4, B4^T,
//   A4^T) and F(2,3) down as above; scale 48. A span is NPOS = 24 iterations, position e = 4 j + i
//   (column j, row i: column-major, so the four rows of a column are consecutive), and the window pixel
//   fetched at iteration n is (n % 4, n / 4). The loader writes 24 U-words a memory word (period
//   9 G + 15) at s * 24 + e. The line buffer, its ring and its rules are the F(2x2) ones: tiles
//   advance 4 columns, 8 pixels of rows y0+3, y0+4 stream in a tile (one every 3 of its first 24
//   iterations; ramp 8 a tile), and the hazard distance holds for width >= wino_min_width = 13 (the
//   last tile's fetch reads pixel w + 4 of the streamed rows, written in tile (w + 4) / 8, earlier than
//   the last, ceil(w / 4) - 1). Output transform in two halves, each cheap: down, per MAC row, two
//   column sums z[r][j] += A^T[r][i] sum (+-1 or hold, as F(2x2)'s four accumulators) in a ring of 6
//   rotated at every column's last row (registers with an enable, the head's mux only): a completed
//   column waits at the ring's tail for the next column's four rows. Across (wino4_across_step), per
//   row r a chain of the four pixels' sums that rotates every iteration, so its head is pixel c = i:
//   at row i of column j + 1 (of column 0 of the next span for j = 5) pixel i adds A4^T[i][j] z[r][j]
//   (a shift by 0..3 and a sign) from the tail, in the tile's last span only; no latch, no select by
//   index. The pixels are complete by row 3 of the next span's column 0 and leave at its iterations
//   0, 1, 4..7, 10, 11 (WINO_DRAIN: those 12 iterations after the block's last tile), each before
//   the next tile's last span restarts it: Y / 16 (the sum is 48 x the direct partial sum), so
//   stage 2 gets 3 x the partial sum, adds the folds and divides the call's sum by 3 exactly in front
//   of its requant_lanes requantisers (zy_accumulate.h; div3_exact: the product with 3's inverse
//   modulo 2^wd_bits, four shift-adds), not one divider per MAC row. Accumulators wrap at wy_bits,
//   which only the final Y must fit. The pixels go out in F(2x2)'s tile order (sub-tile 0 = columns
//   x0, x0+1, then sub-tile 1), only those inside the band and the image, so stage 2 and
//   detile see the pixel order of F(2x2) tiles. No paired positions.
// What breaks if a parameter is wrong: a width below wino_min_width breaks the hazard distance
//   (the register check refuses it); a weight stream in direct order gives wrong U (not a hang).
#ifndef ZY_WINOGRAD_H
#define ZY_WINOGRAD_H

#include "zy_conv.h"

namespace zy {

// One B^T row applied to four values: idx 0: x0 - x2, 1: x1 + x2, 2: x2 - x1, 3: x1 - x3.
template <class T>
T bt_combine(const T& x0, const T& x1, const T& x2, const T& x3, int idx) {
#pragma HLS INLINE
    const T a = idx == 0 ? x0 : (idx == 2 ? x2 : x1);
    const T b = idx == 0 ? x2 : (idx == 3 ? x3 : (idx == 1 ? x2 : x1));
    return idx == 1 ? T(a + b) : T(a - b);
}

// A^T[r][i] for r in {0, 1}: row 0 = (1, 1, 1, 0), row 1 = (0, 1, -1, -1).
inline int at_coef(int r, int i) {
#pragma HLS INLINE
    if (r == 0) return i == 3 ? 0 : 1;
    return i == 0 ? 0 : (i == 1 ? 1 : -1);
}

// Paired positions (see the design note): the call's `winograd` register is WINO_PAIRED. Step k of a
// tile computes the low half's position pair_position(k) and the high half's sigma of it (sigma swaps
// rows 0 and 3, and columns 0 and 3: the high lanes hold the 180-degree-rotated filters, whose U is U
// with sigma on both indices); steps 0-5 pair positions whose A^T coefficients touch disjoint output
// pixels, steps 6-9 are the four middle positions alone.
static const int WINO_PAIRED = 2;
static const int PAIR_STEPS = 10;
static const int PAIR_SINGLES = 6;  // the first single step

inline int pair_position(int k) {
#pragma HLS INLINE
    // (0,0) (0,1) (0,2) (0,3) | (1,0) (2,0) | (1,1) (1,2) (2,1) (2,2)
    return k < 4 ? k : (k == 4 ? 4 : (k == 5 ? 8 : (k == 6 ? 5 : (k == 7 ? 6 : (k == 8 ? 9 : 10)))));
}

inline int sigma(int i) {
#pragma HLS INLINE
    return i == 0 ? 3 : (i == 3 ? 0 : i);
}

// (2G) g, the down half of both filter transforms: g[a * 3 + b] the 3x3 filter, hm[i][b] the result.
template <class C>
void filter_rows(const typename C::wu_t g[9], typename C::wu_t hm[4][3]) {
#pragma HLS INLINE
    typedef typename C::wu_t wu_t;
    for (int b = 0; b < 3; b++) {
#pragma HLS UNROLL
        const wu_t g0 = g[b], g1 = g[3 + b], g2 = g[6 + b];
        const wu_t s02 = g0 + g2;
        hm[0][b] = g0 + g0;
        hm[1][b] = s02 + g1;
        hm[2][b] = s02 - g1;
        hm[3][b] = g2 + g2;
    }
}

// F(4x2) (C::wino_tw == 4, "F(4x2) tiles" in the design note): one B4^T row applied to six values,
// idx 0: 4 (t0 - t2) + (t4 - t2), 1|2: (t4 - 4 t2) +- (t3 - 4 t1), 3|4: (t4 - t2) +- 2 (t3 - t1),
// 5: 4 (t1 - t3) + (t5 - t3).
template <class T>
T b4_combine(const T t[6], int idx) {
#pragma HLS INLINE
    T x, y;
    if (idx == 0) {
        x = T(t[4] - t[2]);
        y = T(T(t[0] - t[2]) << 2);
    } else if (idx <= 2) {
        x = T(t[4] - T(t[2] << 2));
        y = T(t[3] - T(t[1] << 2));
    } else if (idx <= 4) {
        x = T(t[4] - t[2]);
        y = T(T(t[3] - t[1]) << 1);
    } else {
        x = T(t[5] - t[3]);
        y = T(T(t[1] - t[3]) << 2);
    }
    return (idx == 2 || idx == 4) ? T(x - y) : T(x + y);
}

// A4^T[c][j] * z for c in 0..3, j in 0..5: rows (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0),
// (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1): a shift by 0..3 and a sign.
template <class T>
T a4_term(const T& z, int c, int j) {
#pragma HLS INLINE
    const bool odd = (c & 1) != 0;
    if (j == 0) return c == 0 ? z : T(0);
    if (j == 5) return c == 3 ? z : T(0);
    if (j == 1) return z;
    const T m = j == 2 ? z : T(z << c);  // j 3, 4: 2^c
    return (odd && (j == 2 || j == 4)) ? T(-m) : m;
}

// U = (2G) g (24 G4)^T for one (oc, ic) pair of an F(4x2) design: g[a * 3 + b] the 3x3 filter,
// u[4 j + i] = U[i][j] (column-major, the order of the positions: see "F(4x2) tiles").
template <class C>
void filter_transform4(const typename C::wu_t g[9], typename C::wu_t u[24]) {
#pragma HLS INLINE
    typedef typename C::wu_t wu_t;
    wu_t hm[4][3];  // (2G) g
#pragma HLS ARRAY_PARTITION variable=hm complete dim=0
    filter_rows<C>(g, hm);
    for (int i = 0; i < 4; i++) {
#pragma HLS UNROLL
        const wu_t h0 = hm[i][0], h1 = hm[i][1], h2 = hm[i][2];
        const wu_t s02 = h0 + h2;  // rows of 24 G4: (6,0,0) (-4,-4,-4) (-4,4,-4) (1,2,4) (1,-2,4) (0,0,24)
        const wu_t q = h0 + wu_t(h2 << 2);
        u[0 * 4 + i] = wu_t(h0 << 2) + wu_t(h0 << 1);
        u[1 * 4 + i] = -wu_t(wu_t(s02 + h1) << 2);
        u[2 * 4 + i] = wu_t(wu_t(h1 - s02) << 2);
        u[3 * 4 + i] = q + wu_t(h1 << 1);
        u[4 * 4 + i] = q - wu_t(h1 << 1);
        u[5 * 4 + i] = wu_t(h2 << 4) + wu_t(h2 << 3);
    }
}

// U = (2G) g (2G)^T for one (oc, ic) pair: g[a * 3 + b] the 3x3 filter, u[i * 4 + j] the result.
template <class C>
void filter_transform(const typename C::wu_t g[9], typename C::wu_t u[16]) {
#pragma HLS INLINE
    typedef typename C::wu_t wu_t;
    wu_t hm[4][3];  // (2G) g
#pragma HLS ARRAY_PARTITION variable=hm complete dim=0
    filter_rows<C>(g, hm);
    for (int i = 0; i < 4; i++) {
#pragma HLS UNROLL
        const wu_t s02 = hm[i][0] + hm[i][2];
        u[i * 4 + 0] = hm[i][0] + hm[i][0];
        u[i * 4 + 1] = s02 + hm[i][1];
        u[i * 4 + 2] = s02 - hm[i][1];
        u[i * 4 + 3] = hm[i][2] + hm[i][2];
    }
}

// The weight-buffer writer of a Winograd block, one step per loop iteration (see the design note): a
// period of 9 G + NPOS - 9 steps takes the G groups (s, j) of one memory word (bank words j of memory
// j / G), their 9 tap words at steps 0 .. 9 G - 1. At a group's ninth word its taps are copied to
// `tstage` and, from the next step, its lanes_per_word (oc, ic) pairs are transformed one a step
// (one filter-transform circuit, not lanes_per_word: LPW <= 9 steps, done before the next group's
// ninth word) into U slot j % G of the U half `tsel`; the step after the memory word's last pair, its
// NPOS U-words are written, one a step, from that half, while the next memory word's groups fill the
// other half (ureg is double-buffered, so the writes may run into the next period: they end before
// the word after next transforms into the same half, and before the next word's writes begin since
// PERIOD >= NPOS). The staging words and the U halves are the caller's registers (wino_blocks),
// partitioned where they are declared.
template <class C>
struct wino_loader {
    static const int G = wbuf_geom<C>::G;
    static const int WPS = wbuf_geom<C>::WPS;
    static const int LPW = wbuf_geom<C>::LPW;
    static const int MEMS = wbuf_geom<C>::MEMS;
    static const int WORD = wbuf_geom<C>::WORD;
    static const int NPOS = wbuf_geom<C>::POSITIONS;  // U-words of a memory word: 16, or 24 (F(4x2))
    static const int PERIOD = 9 * G + NPOS - 9;
    static const int TAIL = LPW + 9;  // steps after the last period: the last pairs' transforms and writes
    static_assert(LPW <= 9, "a group's pairs are transformed one a step before the next group's taps are in");
    typedef typename C::wu_t wu_t;

    int steps_left;  // steps of this block's load still to run
    int groups_left;  // groups (s, j) still to read
    int q;  // step within the period
    int t;  // tap word of the group being read
    int half_base;
    int rd_slot, rd_m, rd_s;  // the group being read: its bank word in the memory word, memory, sub-fold
    int tl;  // pair of the staged group being transformed (LPW: none)
    int st_slot, st_m, st_s;  // the staged group's bank word, memory, sub-fold
    int tsel, wsel;  // the U half being filled, and the one being written
    int wp;  // U-word being written (NPOS: none)
    int wr_m, waddr;  // the memory word being written: its memory and running address

    void start(int half, int subfolds) {
        int groups = 0, words = 0;
        for (int i = 0; i < wbuf_geom<C>::SUB; i++) {
#pragma HLS UNROLL
            if (i < subfolds) {
                groups += WPS;
                words += MEMS;
            }
        }
        groups_left = groups;
        steps_left = subfolds > 0 ? words * PERIOD + TAIL : 0;
        q = 0;
        t = 0;
        half_base = half ? wbuf_geom<C>::SLICES : 0;
        rd_slot = 0;
        rd_m = 0;
        rd_s = 0;
        tl = LPW;
        st_slot = 0;
        st_m = 0;
        st_s = 0;
        tsel = 0;
        wsel = 0;
        wp = NPOS;
        wr_m = 0;
        waddr = 0;
    }

    void step(hls::stream<axis_word_t<C> >& wts, typename C::word_t stage[9], typename C::word_t tstage[9],
              wu_t ureg[2][NPOS][WORD],
              typename C::wb_t buf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH]) {
#pragma HLS INLINE
        if (wp < NPOS) {
            for (int i = 0; i < WORD; i++) {
#pragma HLS UNROLL
                buf[wr_m][i][waddr] = ureg[wsel][wp][i];
            }
            waddr++;
            wp++;
        }
        if (tl < LPW) {  // transform pair tl of the staged group into its slot
            wu_t gl[9], ul[NPOS];
#pragma HLS ARRAY_PARTITION variable=gl complete
#pragma HLS ARRAY_PARTITION variable=ul complete
            for (int k = 0; k < 9; k++) {
#pragma HLS UNROLL
                gl[k] = get_lane<C>(tstage[k], tl);
            }
            if (C::wino_tw == 4) {
                filter_transform4<C>(gl, ul);
            } else {
                filter_transform<C>(gl, ul);
            }
            const int at = G == 1 ? tl : st_slot * LPW + tl;
            for (int e = 0; e < NPOS; e++) {
#pragma HLS UNROLL
                ureg[tsel][e][at] = ul[e];
            }
            if (tl == LPW - 1 && st_slot == G - 1) {  // the memory word is complete: write it from the next step
                wp = 0;
                wsel = tsel;
                tsel = 1 - tsel;
                wr_m = st_m;
                waddr = half_base + (st_s << 4) + (NPOS == 24 ? st_s << 3 : 0);  // slice (s, e) at s * NPOS + e
            }
            tl++;
        }
        if (groups_left > 0 && q < 9 * G) {
            const typename C::word_t word = checked_read(wts).data;
            stage[t] = word;
            if (t == 8) {
                for (int k = 0; k < 8; k++) {
#pragma HLS UNROLL
                    tstage[k] = stage[k];
                }
                tstage[8] = word;
                t = 0;
                tl = 0;
                st_slot = rd_slot;
                st_m = rd_m;
                st_s = rd_s;
                groups_left--;
                if (rd_slot != G - 1) {
                    rd_slot++;
                } else {
                    rd_slot = 0;
                    if (rd_m == MEMS - 1) {
                        rd_m = 0;
                        rd_s++;
                    } else {
                        rd_m++;
                    }
                }
            } else {
                t++;
            }
        }
        q = q == PERIOD - 1 ? 0 : q + 1;
        steps_left--;
    }
};

template <class C>
void wino_load(hls::stream<axis_word_t<C> >& wts, wino_loader<C>& ld, typename C::word_t stage[9],
               typename C::word_t tstage[9], typename C::wu_t ureg[2][wbuf_geom<C>::POSITIONS][wbuf_geom<C>::WORD],
               typename C::wb_t buf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH]) {
WINO_LOAD:
    while (ld.steps_left > 0) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=buf inter false
#pragma HLS LOOP_TRIPCOUNT min=1 max=2320
        ZY_COUNT(WINO_LOAD);
        ld.step(wts, stage, tstage, ureg, buf);
    }
}

// The window pixel (a, b) (row, column) fetched, and the position (i, j) computed, at iteration n
// of a span: row-major for F(2x2) (n = 4 a + b), column-major for F(4x2) (n = 4 b + a; see "F(4x2)
// tiles").
template <class C>
void wino_pixel(int n, int& a, int& b) {
#pragma HLS INLINE
    if (C::wino_tw == 4) {
        a = n & 3;
        b = n >> 2;
    } else {
        a = n >> 2;
        b = n & 3;
    }
}

// Pixel (a, b) of a span's 4 x (wino_tw + 2) window into the shadow registers `nw`: the p_ic lanes of
// sub-fold `sf` of the line-buffer pixel at row y + a (ring slot slot0 + a) and column x + b; zero
// outside the streamed rows [read0, read1) and the image's columns. A paired call's high lanes take
// the low lanes' channels (its one sub-fold has at most p_ic / 2 real lanes).
template <class C>
void wino_fetch(typename C::data_t line[C::line_rows][C::max_width][C::p_oc],
                typename C::data_t nw[4][C::wino_tw + 2][C::p_ic], int a, int b, int y, int x, int slot0,
                int sf, int read0, int read1, int w_img, bool pair) {
#pragma HLS INLINE
    typedef typename C::data_t data_t;
    const int RING = C::line_rows;
    const int row = y + a, col = x + b;
    const int slot_sum = slot0 + a;
    const int slot = slot_sum >= RING ? slot_sum - RING : slot_sum;
    const bool inside = row >= read0 && row < read1 && col >= 0 && col < w_img;
    const int c = inside ? col : 0;
    for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
        data_t val = 0;
        for (int s = 0; s < wbuf_geom<C>::SUB; s++) {
#pragma HLS UNROLL
            if (s == sf) val = line[slot][c][s * C::p_ic + ic];
        }
        if (pair && ic >= C::p_ic / 2) val = line[slot][c][ic - C::p_ic / 2];  // the low lanes' channels again
        nw[a][b][ic] = inside ? val : data_t(0);
    }
}

// F(4x2), the across half of the output transform at iteration e = 4 jp + i of a span (see "F(4x2)
// tiles"). The ring's tail zr[r][5] holds column jp - 1 (jp = 0: column 5 of the previous span) until
// the ring turns at the end of column jp; pixel c = i of each row r's chain ych[r] takes the term
// A4^T[c][j] z[r][j] of that column j when it is final (``last``: this is its tile's last span; jp = 0:
// ``after``, the span after a tile's last). A pixel restarts at its first nonzero term (column 0 for c
// = 0, column 1 for the others). The chains rotate every iteration, so the head ych[r][0] is pixel i
// and no pixel is selected by index. First the previous tile's pixels leave (read before this
// iteration's update): (0, 0), (0, 1) at e = 0, 1; (1, 0), (1, 1), (0, 2), (0, 3) at e = 4..7; (1, 2),
// (1, 3) at e = 10, 11 (F(2x2)'s tile order over the two 2 x 2 sub-tiles; each pixel is final and not
// yet restarted then): Y / 16 (Y = 48 x the direct partial sum: 3 x the pixel, stage 2 divides a call's
// sum by 3), if it is inside the band (rows2) and the image (cols).
template <class C>
void wino4_across_step(chan<psum_t<C> >& psum, const typename C::wy_t zr[2][6][C::p_oc],
                       typename C::wy_t ych[2][4][C::p_oc], int i, int jp, bool last, bool after, bool rows2,
                       int cols) {
#pragma HLS INLINE
    typedef typename C::wy_t wy_t;
    typedef typename C::wq_t wq_t;
    const bool emit = after && (jp == 1 || (jp == 0 && i < 2) || (jp == 2 && i >= 2));
    const int er = (jp == 1 && i < 2) || (jp == 2 && i >= 2) ? 1 : 0;
    if (emit && (er == 0 || rows2) && i < cols) {
        psum_t<C> ps;
        for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
            ps.lane[oc] = wq_t(ych[er][0][oc] >> 4);
        }
        psum.write(ps);
    }
    const int j = jp == 0 ? 5 : jp - 1;
    const bool act = jp == 0 ? after : last;
    const bool restart = act && jp != 0 && j == (i == 0 ? 0 : 1);
    for (int r = 0; r < 2; r++) {
#pragma HLS UNROLL
        for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
            const wy_t base = restart ? wy_t(0) : ych[r][0][oc];
            const wy_t y = act ? wy_t(base + a4_term<wy_t>(zr[r][5][oc], i, j)) : base;
            for (int q = 0; q < 3; q++) {
#pragma HLS UNROLL
                ych[r][q][oc] = ych[r][q + 1][oc];
            }
            ych[r][3][oc] = y;
        }
    }
}

// The blocks of a Winograd call (see the design note).
template <class C>
void wino_blocks(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& wts, chan<psum_t<C> >& psum,
                 typename C::data_t line[C::line_rows][C::max_width][C::p_oc],
                 typename C::wb_t wbuf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH],
                 const registers& r) {
#pragma HLS INLINE
    typedef typename C::data_t data_t;
    typedef typename C::acc_t acc_t;
    typedef typename mac_types<C>::x_t x_t;
    const int SUB = wbuf_geom<C>::SUB;
    const int SLICES = wbuf_geom<C>::SLICES;
    const int RING = C::line_rows;
    const int TW = C::wino_tw;  // output tile columns: 2, or 4 (F(4x2))
    const int NCOL = TW + 2;  // window columns
    const int NPOS = wbuf_geom<C>::POSITIONS;  // 4 * NCOL positions a span
    const int SLOTS = TW * 2;  // pixels in and out a tile, one every SLOT_GAP of its first NPOS iterations
    const int SLOT_GAP = NPOS / SLOTS;  // 4, or 3
    static_assert(C::line_rows == 6, "the Winograd line buffer is a ring of 6 rows");
    static_assert(TW == 2 || TW == 4, "F(2x2) or F(4x2)");
    static_assert(TW == 2 || !C::wino_pair, "paired positions are an F(2x2) path");
    static_assert(C::wu_bits >= C::bits + (TW == 4 ? 7 : 4) && C::wv_bits >= C::bits + (TW == 4 ? 5 : 2),
                  "U needs bits + 4, V bits + 2 (F(4x2): bits + 7, bits + 5)");
    static_assert(C::wy_bits <= C::acc_bits, "the output transform's accumulators (wy_bits, from "
                  "dse.hwconfig.wino_y_bits: 9 positions of p_oc lanes of U x V) fit the accumulator width");
    const int w_img = r.width;
    // Paired positions (design note): a call of one sub-fold of at most p_ic / 2 lanes (the plan's and the
    // register check's condition), so a span is a tile and e counts its steps.
    const bool pair = C::wino_pair && r.winograd == WINO_PAIRED;
    const int H = C::p_ic / 2;
    const int last_tx = (TW == 4 ? (w_img + 3) >> 2 : (w_img + 1) >> 1) - 1;
    const int ramp_cap = w_img << 1;

    block_walker<C> g;
    g.start(r);
    wino_loader<C> ld;
    typename C::word_t stage[9];  // the loader's tap words of the group being read ...
#pragma HLS ARRAY_PARTITION variable=stage complete
    typename C::word_t tstage[9];  // ... and of the group being transformed
#pragma HLS ARRAY_PARTITION variable=tstage complete
    typename C::wu_t ureg[2][wbuf_geom<C>::POSITIONS][wbuf_geom<C>::WORD];  // the U of a memory word, by position (two halves)
#pragma HLS ARRAY_PARTITION variable=ureg complete dim=0
    ld.start(0, g.subfolds);
    wino_load<C>(wts, ld, stage, tstage, ureg, wbuf);  // the first block's filters: nothing to overlap with yet

    int cur = 0;
    // One line writer for the call: every block's last tile row moves it on to the next block's first
    // rows (see the design note), so a block starts with its row read0 at ring slot `base`.
    line_writer wr = {g.read0, 0, 0, -1, -1, 0, 0};
    int base = 0, nbase = 0;  // ring slot of this block's row read0, and of the next block's
BLOCKS:
    for (bool last_block = false; !last_block;) {
        last_block = g.last();
        block_walker<C> nxt = g;
        nxt.next();
        ld.start(1 - cur, last_block ? 0 : nxt.subfolds);

        const int S = g.subfolds;
        const int r0 = g.row0, r1 = g.row1, read0 = g.read0, read1 = g.read1;
        const int last_ty = ((r1 - r0 + 1) >> 1) - 1;
        int kmax = -1;  // iterations of a tile - 1: NPOS * S - 1
        for (int i = 0; i < SUB; i++) {
#pragma HLS UNROLL
            if (i < S) kmax += NPOS;
        }

        // Prefill: the band's input rows up to r0 + 2 (those the previous block did not stream in).
        pixel_t<C> newest = pixel_t<C>();
        const int fill_end = imin(r0 + 3, read1);
    LINE_FILL:
        for (bool done = wr.row == fill_end; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=1664
            ZY_COUNT(LINE_FILL);
            next_pixel<C>(pix, line, newest, wr, RING, w_img, true);
            done = wr.row == fill_end;
        }

        // The first span's window (tile 0, sub-fold 0: rows r0 - 1 .. r0 + 2, columns -1 .. 2) into the
        // shadow registers. (n_y, n_x, n_slot, n_s): where the window being fetched is.
        int top_slot = r0 != 0 ? base : (base == 0 ? RING - 1 : base - 1);  // slot of window row 0 (row y0 - 1)
        data_t win[4][NCOL][C::p_ic];  // the window of this span: sub-fold s of the tile
#pragma HLS ARRAY_PARTITION variable=win complete dim=0
        data_t nw[4][NCOL][C::p_ic];  // the next span's, one pixel an iteration
#pragma HLS ARRAY_PARTITION variable=nw complete dim=0
        int n_y = r0 - 1, n_x = -1, n_slot = top_slot, n_s = 0;
    WINO_PRELOAD:
        for (int i = 0; i < NPOS; i++) {
#pragma HLS PIPELINE II=1
            ZY_COUNT(WINO_PRELOAD);
            int pa, pb;
            wino_pixel<C>(i, pa, pb);
            wino_fetch<C>(line, nw, pa, pb, n_y, n_x, n_slot, n_s, read0, read1, w_img, pair);
        }

        int tx = 0, ty = 0, x0 = 0, y0 = r0;
        int k = 0, e = 0, s = 0;  // iteration of the tile (s * NPOS + e), position, sub-fold
        int sl_t = 0, sl_ph = 0;  // F(4x2): the tile's pixel slot (k / 3, while k < 24) and its phase (k % 3)
        const int slice0 = cur ? SLICES : 0;
        int raddr = slice0;
        int ahead = 0, ramp = SLOTS;  // pixels of rows y0+3, y0+4 read, and allowed after this tile
        // the next block's rows nxt.read0 .. pre_end - 1 go to the slots after this tile row's window
        const int pre_end = imin(nxt.read0 + 2, imin(nxt.row0 + 3, nxt.read1));
        nbase = top_slot + 4 >= RING ? top_slot + 4 - RING : top_slot + 4;
        bool ahead_next = false;  // the writer has moved on to the next block's rows
        typedef typename C::wy_t wy_t;
        wy_t yacc[4][C::p_oc];  // wy_bits: the bound of a partial Y, narrower than acc_t
#pragma HLS ARRAY_PARTITION variable=yacc complete dim=0
        wy_t emit[4][C::p_oc];
#pragma HLS ARRAY_PARTITION variable=emit complete dim=0
        int n_emit = 0;
        bool emit_cols1 = false;  // the latched tile has one real column: its pixels are q = 0, 2
        // F(4x2): the column sums of the tile being computed (a ring: index 0 is the current column,
        // index 5 the last completed one), the output pixels (per row r a chain of four, rotating), and
        // which of the previous tile's pixels are real.
        wy_t zr[2][6][C::p_oc];
#pragma HLS ARRAY_PARTITION variable=zr complete dim=0
        wy_t ych[2][4][C::p_oc];
#pragma HLS ARRAY_PARTITION variable=ych complete dim=0
        bool e_valid = false, e_rows2 = false;
        int e_cols = 0;
    CONV_WINO:
        for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=line inter false
#pragma HLS DEPENDENCE variable=wbuf inter false
#pragma HLS DEPENDENCE variable=wbuf intra false
#pragma HLS LOOP_TRIPCOUNT min=1 max=1557504
            ZY_COUNT(CONV_WINO);
            // Overlapped load of the next block's filters, one step per cycle.
            if (ld.steps_left > 0) ld.step(wts, stage, tstage, ureg, wbuf);
            if (e == 0) {
                // This span's window is the one fetched; the next span is sub-fold s + 1 of this tile, else
                // sub-fold 0 of the next tile, or of the next tile row's first tile.
                for (int a = 0; a < 4; a++) {
#pragma HLS UNROLL
                    for (int b = 0; b < NCOL; b++) {
#pragma HLS UNROLL
                        for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
                            win[a][b][ic] = nw[a][b][ic];
                        }
                    }
                }
                if (s + 1 < S) {
                    n_s = s + 1;
                } else if (tx != last_tx) {
                    n_s = 0;
                    n_x = x0 + TW - 1;
                    if (pair) {  // the next tile's columns x0 + 1, x0 + 2 are this window's 2, 3
                        for (int a = 0; a < 4; a++) {
#pragma HLS UNROLL
                            for (int b = 0; b < 2; b++) {
#pragma HLS UNROLL
                                for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
                                    nw[a][b][ic] = nw[a][b + 2][ic];
                                }
                            }
                        }
                    }
                } else {
                    n_s = 0;
                    n_x = -1;
                    n_y = y0 + 1;
                    n_slot = top_slot + 2 >= RING ? top_slot + 2 - RING : top_slot + 2;
                }
            }
            // The previous tile's pixels to stage 2, one every SLOT_GAP iterations of the first NPOS (F(2x2):
            // k = 0, 4, 8, 12; a paired tile: one every two of its first eight iterations): at most one pixel
            // per SLOT_GAP cycles, as an NPOS * S-cycle tile makes them, so stage 2 and the FIFOs between
            // see no burst. F(4x2)'s leave in its across half (wino4_across_step, below).
            const int slot4 = pair ? k >> 1 : k >> 2;
            const bool slot_now = TW == 4 ? sl_ph == 0 && sl_t < SLOTS
                                          : (pair ? (k & 1) == 0 && k < 8 : (k & 3) == 0 && k < 16);
            if (TW == 2 && slot_now && slot4 < n_emit) {
                const int q = emit_cols1 ? slot4 << 1 : slot4;
                psum_t<C> ps;
                for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                    ps.lane[oc] = emit[q][oc];
                }
                psum.write(ps);
            }
            // Rows y0 + 3, y0 + 4 stream in during the tile row, one pixel every SLOT_GAP iterations of a
            // tile's first NPOS (the pace of the input stream for p_oc / lanes_per_word <= SLOT_GAP words a
            // pixel). The last tile row reads nothing of its own (its rows past y0 + 2 are past read1): the
            // writer moves on to the next block's first rows, into the two slots after the window.
            if (slot_now && ty == last_ty && !last_block && !ahead_next) {
                wr.row = nxt.read0;
                wr.col = 0;
                wr.slot = nbase;
                ahead_next = true;
            }
            if (slot_now && ahead < ramp && wr.row < (ahead_next ? pre_end : read1)) {
                next_pixel<C>(pix, line, newest, wr, RING, w_img, true);
                ahead++;
            }
            // One pixel of the next span's window (a paired tile that is not its row's last: the pixels of
            // columns 2, 3, in its first eight iterations).
            const bool reuse = pair && tx != last_tx;
            if (!reuse || k < 8) {
                const int n = reuse ? ((k >> 1) << 2) + 2 + (k & 1) : e;
                int pa, pb;
                wino_pixel<C>(n, pa, pb);
                wino_fetch<C>(line, nw, pa, pb, n_y, n_x, n_slot, n_s, read0, read1, w_img, pair);
            }
            // V = B^T d B at position (i, j) for the p_ic lanes of the span's window (F(2x2): e = 4i + j; a
            // paired step's low lanes at (i, j) = its position, the high lanes at (sigma(i), sigma(j)), zero
            // in a single step (the high lanes) or past the tile's PAIR_STEPS (all lanes). F(4x2): e = 4j + i,
            // V = B^T d B4).
            const int elo = pair ? pair_position(k) : e;
            int ei, ej;
            wino_pixel<C>(elo, ei, ej);
            const int hi_i = pair ? sigma(ei) : ei, hi_j = pair ? sigma(ej) : ej;
            const bool idle = pair && k >= PAIR_STEPS;
            const bool single = pair && k >= PAIR_SINGLES;
            x_t v[C::p_ic];
#pragma HLS ARRAY_PARTITION variable=v complete
            for (int ic = 0; ic < C::p_ic; ic++) {
#pragma HLS UNROLL
                const bool high = ic >= H;
                const int vi = high ? hi_i : ei, vj = high ? hi_j : ej;
                x_t t[NCOL];
#pragma HLS ARRAY_PARTITION variable=t complete
                for (int b = 0; b < NCOL; b++) {
#pragma HLS UNROLL
                    t[b] = bt_combine<x_t>(x_t(win[0][b][ic]), x_t(win[1][b][ic]), x_t(win[2][b][ic]),
                                           x_t(win[3][b][ic]), vi);
                }
                const x_t vv = TW == 4 ? b4_combine<x_t>(t, vj) : bt_combine<x_t>(t[0], t[1], t[2], t[3], vj);
                v[ic] = idle || (single && high) ? x_t(0) : vv;
            }
            acc_t sums[C::p_oc], lo[C::p_oc], hi[C::p_oc];
#pragma HLS ARRAY_PARTITION variable=sums complete
#pragma HLS ARRAY_PARTITION variable=lo complete
#pragma HLS ARRAY_PARTITION variable=hi complete
            if (C::wino_pair) {
                typename C::wb_t wslice[C::p_oc * C::p_ic];
#pragma HLS ARRAY_PARTITION variable=wslice complete
                read_slice<C>(wslice, wbuf, pair ? slice0 + elo : raddr);
                mac_sums_split<C>(sums, lo, hi, wslice, v);
            } else {
                array_step<C>(sums, wbuf, raddr, v);
            }
            const int tile_kmax = pair ? (tx == last_tx ? 15 : PAIR_STEPS - 1) : kmax;
            const bool tile_done = k == tile_kmax;
            if (TW == 2) {
                // Output transform: Y[(r, c)] += A^T[r][i] A^T[c][j] * sum. A paired step adds to each pixel
                // the half whose position touches it (the two positions touch disjoint pixels: one of the
                // coefficients is zero), with that position's coefficient.
                for (int q = 0; q < 4; q++) {
#pragma HLS UNROLL
                    const int coef_lo = at_coef(q >> 1, ei) * at_coef(q & 1, ej);
                    const int coef_hi = at_coef(q >> 1, hi_i) * at_coef(q & 1, hi_j);
                    const bool use_hi = pair && coef_lo == 0;
                    const int coef = use_hi ? coef_hi : coef_lo;
                    for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                        const wy_t base = k == 0 ? wy_t(0) : yacc[q][oc];
                        const wy_t sum = use_hi ? wy_t(hi[oc]) : (pair ? wy_t(lo[oc]) : wy_t(sums[oc]));
                        yacc[q][oc] = coef > 0 ? wy_t(base + sum) : (coef < 0 ? wy_t(base - sum) : base);
                    }
                }
            } else {
                // F(4x2), the across half first (it reads the ring's tail before this iteration turns it),
                // then the down half of the output transform: the column sums z[r][j] += A^T[r][i] * sum
                // (A^T rows (1, 1, 1, 0), (0, 1, -1, -1)) in a ring whose index 0 is the current column j,
                // restarted at the tile's first sub-fold and rotated at the column's last row (i = 3); a full
                // span turns it once, so every sub-fold adds to the same columns, and the completed column
                // waits in the tail (index 5) for the across half during the next column's four rows.
                wino4_across_step<C>(psum, zr, ych, ei, ej, s == S - 1, s == 0 && e_valid, e_rows2, e_cols);
                for (int r = 0; r < 2; r++) {
#pragma HLS UNROLL
                    const int coef = at_coef(r, ei);
                    for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                        const wy_t base = s == 0 && ei == 0 ? wy_t(0) : zr[r][0][oc];
                        const wy_t sum = wy_t(sums[oc]);
                        const wy_t nz = coef > 0 ? wy_t(base + sum) : (coef < 0 ? wy_t(base - sum) : base);
                        if (ei == 3) {
                            for (int j = 0; j < 5; j++) {
#pragma HLS UNROLL
                                zr[r][j][oc] = zr[r][j + 1][oc];
                            }
                            zr[r][5][oc] = nz;
                        } else {
                            zr[r][0][oc] = nz;
                        }
                    }
                }
            }
            if (tile_done) {  // latch Y / 4 (exact) and which of the four pixels are real
                if (TW == 2) {
                    for (int q = 0; q < 4; q++) {
#pragma HLS UNROLL
                        for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                            emit[q][oc] = yacc[q][oc] >> 2;
                        }
                    }
                }
                const bool rows2 = y0 + 1 < r1;
                const bool cols2 = x0 + 1 < w_img;
                n_emit = rows2 ? (cols2 ? 4 : 2) : (cols2 ? 2 : 1);
                emit_cols1 = !cols2;
                e_valid = true;
                e_rows2 = rows2;
                e_cols = imin(w_img - x0, TW);
            }
            done = tile_done && tx == last_tx && ty == last_ty;
            if (tile_done) {
                k = 0;
                e = 0;
                s = 0;
                sl_t = 0;
                sl_ph = 0;
                raddr = slice0;
                if (tx == last_tx) {
                    tx = 0;
                    x0 = 0;
                    ty++;
                    y0 += 2;
                    top_slot = top_slot + 2 >= RING ? top_slot + 2 - RING : top_slot + 2;
                    if (!done) {  // the slots after the new tile row's window
                        nbase = top_slot + 4 >= RING ? top_slot + 4 - RING : top_slot + 4;
                    }
                    ahead = 0;
                    ramp = SLOTS;
                } else {
                    tx++;
                    x0 += TW;
                    ramp = imin(ramp + SLOTS, ramp_cap);
                }
            } else {
                k++;
                raddr++;
                if (e == NPOS - 1) {
                    e = 0;
                    s++;
                } else {
                    e++;
                }
                if (sl_ph == SLOT_GAP - 1) {
                    sl_ph = 0;
                    if (sl_t < SLOTS) sl_t++;
                } else {
                    sl_ph++;
                }
            }
        }
    WINO_DRAIN:  // the block's last tile's pixels (F(4x2): the across half's first 12 iterations of a span)
        for (int i = 0; i < (TW == 4 ? NPOS / 2 : n_emit); i++) {
#pragma HLS PIPELINE II=1
            ZY_COUNT(WINO_DRAIN);
            if (TW == 4) {
                wino4_across_step<C>(psum, zr, ych, i & 3, i >> 2, false, true, e_rows2, e_cols);
            } else {
                const int q = emit_cols1 ? i << 1 : i;
                psum_t<C> ps;
                for (int oc = 0; oc < C::p_oc; oc++) {
#pragma HLS UNROLL
                    ps.lane[oc] = emit[q][oc];
                }
                psum.write(ps);
            }
        }
        wino_load<C>(wts, ld, stage, tstage, ureg, wbuf);  // filters of the next block that did not fit under this one
        base = nbase;  // every block but the last moved the writer there in its last tile row
        cur = 1 - cur;
        g = nxt;
    }
}

}  // namespace zy

#endif  // ZY_WINOGRAD_H
