// zy_common.h: types shared by the three stages, fold geometry, and bus-word lane access.
//
// Design note
// - Kernels are templates over a config trait C (zy::config from the generated
//   zynqyolo_config.h): parallelism, maxima and number types are compile time; layer shapes are
//   the AXI-Lite registers (zy::registers), never template arguments.
// - Two flavours of the same source: ap_int types (synthesis, and the ap_int C simulation) and
//   native integers (ZYNQYOLO_NATIVE_TYPES, the fast C simulation). Widths are respected in
//   both: a product of two codes fits prod_t exactly, partial sums are exact in acc_t, and the
//   only place the accumulator width (acc_bits: 48 at 16 bits, 32 at 8) matters (bias add, stage
//   2) wraps explicitly (wrap_acc); the ap_int sums wrap at every add, the native ones once, which
//   is the same modulo 2^acc_bits, so both flavours are bit-identical.
// - DDR feature maps are fold-major [fold][row][col][lanes]: fold f of a C-channel tensor holds
//   fold_lanes(C, f) lanes (the last fold rounded up to whole bus words, padding lanes 0); one
//   pixel of a fold is lanes / lanes_per_word bus words; lane j of a word sits in bits
//   [j*bits, (j+1)*bits), lane 0 lowest.
// - Inside the kernels a pixel always travels as p_oc lanes (pixel_t); lanes beyond the fold's
//   width are 0.
// What breaks if a parameter is wrong: p_oc not a multiple of lanes_per_word would split a
//   pixel across words; p_oc not a multiple of p_ic would leave a partial MAC sub-fold; both
//   are rejected at compile time below (HwConfig rejects them first).
#ifndef ZY_COMMON_H
#define ZY_COMMON_H

#include <hls_stream.h>
#ifndef ZYNQYOLO_NATIVE_TYPES
#include <ap_axi_sdata.h>
#endif

#include "zy_counters.h"
#include "zynqyolo_config.h"
#ifdef ZYNQYOLO_THREADED_CSIM
#include "zy_threaded.h"  // hls/sim: the threaded C simulation's bounded FIFOs
#endif

// Pragmas whose arguments come from the generated header (UG1399 "Using #define with Pragma
// Directives": one level of macro hierarchy lets the arguments expand). ZY_BIND_STORAGE(var,
// type, impl) binds an array to a memory type and implementation (BIND_STORAGE); the impl of each
// array is chosen by the design point (dse.blocks.storage_plan, ZY_IMPL_* in zynqyolo_config.h).
#define ZY_PRAGMA_SUB(x) _Pragma(#x)
#define ZY_PRAGMA(x) ZY_PRAGMA_SUB(x)
#define ZY_BIND_STORAGE(v, t, i) ZY_PRAGMA(HLS BIND_STORAGE variable=v type=t impl=i)

namespace zy {

template <class C>
struct checks {
    static_assert(C::bus_bits % C::bits == 0, "a bus word must hold whole lanes");
    static_assert(C::lanes_per_word == C::bus_bits / C::bits, "lanes_per_word must be bus_bits / bits");
    static_assert(C::p_oc % C::lanes_per_word == 0, "p_oc must be a multiple of the lanes per bus word");
    static_assert(C::p_oc % C::p_ic == 0, "p_oc must be a multiple of p_ic (whole MAC sub-folds)");
    static_assert(C::p_oc % C::stage3_lanes == 0, "stage3_lanes must divide p_oc");
    static_assert(C::p_oc % C::requant_lanes == 0, "requant_lanes must divide p_oc");
    static_assert(C::bus_bits % C::entry_bits == 0, "a bus word must hold whole parameter entries");
    static_assert(C::bias_bits + C::shift_bits <= C::entry_bits, "bias and shift must fit one entry");
    static_assert(C::p_oc % (C::bus_bits / C::entry_bits) == 0, "a fold's preamble must fill whole bus words");
    static_assert(C::acc_bits <= C::bias_bits, "the entry's bias field holds any accumulator value (the bias "
                  "is added at accumulator width: the plan refuses a model whose biased sums need more)");
    static_assert((C::acc_bits - 1) + 16 <= 63 && C::leaky_mul < (1 << 16),
                  "the leaky product acc * leaky_mul (|acc| < 2^47, mul < 2^16) must fit int64");
    static_assert(2 * C::bits <= 32, "products of two codes must fit 32 bits");
    static_assert(C::max_ksize == 3, "the line buffer holds three rows (ksize 1 or 3)");
    static_assert(C::max_width >= 3 && C::max_height >= 3, "feature maps of at least 3x3");
    static_assert(C::bits <= 16, "the sigmoid index arithmetic assumes codes of at most 16 bits");
    static const bool ok = true;
};

// One pixel of a fold: p_oc activation codes (stage 1 input, stage 2 output, stage 3).
template <class C>
struct pixel_t {
    typename C::data_t lane[C::p_oc];
};

// One output pixel's exact partial sums for p_oc output channels (stage 1 -> stage 2).
template <class C>
struct psum_t {
    typename C::acc_t lane[C::p_oc];
};

// One preamble entry: the bias aligned to the channel's accumulator frac and the requantisation
// shift s = acc_frac - out_frac of that output channel (stage 1 forwards them to stage 2).
template <class C>
struct param_t {
    typename C::acc_t bias;
    typename C::shift_t shift;
};

// An AXI4-Stream beat with side channels: ap_axiu<bus_bits, 0, 0, 0> (UG1399 "AXI4-Stream
// Interfaces with Side-Channels") gives the top's ports TDATA, TKEEP, TSTRB and TLAST. A user
// struct would not: Vitis HLS packs it whole into TDATA, and AXI DMA's S2MM channel completes a
// transfer only on TLAST (PG021). The native-types C simulation uses a struct with the same
// member names (never synthesised).
#ifdef ZYNQYOLO_NATIVE_TYPES
template <class C>
struct axis_word_t {
    typename C::word_t data;
    typename C::keep_t keep;
    typename C::keep_t strb;
    typename C::last_t last;
};
#else
template <class C>
using axis_word_t = ap_axiu<C::bus_bits, 0, 0, 0>;
#endif

// Internal dataflow channels (one producer, one consumer). In synthesis and the sequential C
// simulation an hls::stream, its depth set by a STREAM pragma where it is declared (zy_accel.h);
// in the threaded C simulation a FIFO bounded at that depth (hls/sim/zy_threaded.h).
#ifdef ZYNQYOLO_THREADED_CSIM
template <class T>
using chan = sim::fifo<T>;
#else
template <class T>
using chan = hls::stream<T>;
#endif

inline int imin(int a, int b) { return a < b ? a : b; }
inline int imax(int a, int b) { return a > b ? a : b; }

template <class C>
int fold_count(int channels) {
    return (channels + C::p_oc - 1) / C::p_oc;
}

// Bus words of one pixel of a tensor with `channels` channels, all folds together.
template <class C>
int words_of(int channels) {
    return (channels + C::lanes_per_word - 1) / C::lanes_per_word;
}

// Advance a raster position (x, y) over columns 0..last_x; true when it was at (last_x, last_y),
// the last pixel (the position then wraps onto row last_y + 1).
inline bool next_raster(int& x, int& y, int last_x, int last_y) {
#pragma HLS INLINE
    const bool end = x == last_x && y == last_y;
    if (x == last_x) {
        x = 0;
        y++;
    } else {
        x++;
    }
    return end;
}

// The folds of a tensor with `channels` channels in order: fold f has min(p_oc, left) lanes,
// `left` counting down from the channels rounded up to whole bus words (HwConfig.fold_lanes).
struct fold_cursor {
    int left;
    int lanes;
};

template <class C>
fold_cursor first_fold(int channels) {
    fold_cursor c;
    c.left = words_of<C>(channels) * C::lanes_per_word;
    c.lanes = imin(C::p_oc, c.left);
    return c;
}

template <class C>
void next_fold(fold_cursor& c) {
    c.left -= C::p_oc;
    c.lanes = imin(C::p_oc, c.left);
}

// The blocks of a conv call in order: groups of G = out_group output folds (G = 1 but for 1x1
// calls, dse.registers), and in a group: band b, input fold f (route inputs: segment A's folds,
// then segment B's), output fold o of the group; with G = 1 that is (o, b, f). A block with
// oi = 0 (the group's first out fold) streams its input rows; the other G - 1 reuse them from
// stage 1's store. A sequence is the G blocks of one (band, input fold). When the map fits half the
// store (`dbl`: G > 1 and height * width <= STORE_HALF pixels), the store is a double buffer: a
// sequence's fold is in half `half`, and its blocks oi >= 1 read the next sequence's fold from the
// stream into the other half while they compute (prefetches()), so that sequence's first block
// reads its fold from the store (`pre`) instead of streaming it (dse.packing.conv_block_reads).
// Everything is advanced incrementally (adds and compares, no run-time multiply or divide, but the
// one `dbl` product per call): the band's output rows [row0, row1), the input rows streamed for it
// [read0, read1) (the band plus the halo, clipped), the lanes of input fold f and its sub-folds
// S = ceil(lanes / p_ic). The input stream, stage 1 and the parameter stream all walk it.
template <class C>
struct block_walker {
    int h, band_rows, pad, folds_a, in_folds, bands, out_folds, group;
    int padded_a, padded_b;  // channels of segments A and B rounded up to whole bus words
    int o, b, f;
    int o0, n, oi;  // the group's first out fold, its size, o - o0
    int row0, row1, read0, read1;
    int left;  // lanes of the current segment from fold f on
    int lanes, subfolds;
    bool dbl;  // the store is double buffered (see above)
    bool pre;  // this sequence's fold was read into the store by the previous sequence
    int half;  // store half of this sequence's fold
    // Pixels of each half of stage 1's store (the line buffer seen as line_rows x max_width pixels).
    static const int STORE_HALF = C::line_rows * C::max_width / 2;

    void start(const registers& r) {
        h = r.height;
        band_rows = r.band_rows;
        pad = r.ksize == 3 ? 1 : 0;
        bands = r.bands;
        out_folds = r.out_folds;
        group = r.out_group;
        folds_a = fold_count<C>(r.in_channels_a);
        in_folds = folds_a + fold_count<C>(r.in_channels_b);
        padded_a = words_of<C>(r.in_channels_a) * C::lanes_per_word;
        padded_b = words_of<C>(r.in_channels_b) * C::lanes_per_word;
        o0 = 0;
        n = imin(group, out_folds);
        oi = 0;
        o = 0;
        b = 0;
        row0 = 0;
        dbl = group > 1 && (int)r.height * (int)r.width <= STORE_HALF;  // once per call
        pre = false;
        half = 0;
        start_fold0();
    }

    // The sequence's fold enters the input stream with this block (the reader's view) ...
    bool streamed() const { return oi == 0; }

    // ... and stage 1 reads it from the stream in this block (not when the previous sequence did).
    bool own_stream() const { return oi == 0 && !pre; }

    bool last_sequence() const { return o0 + n == out_folds && b == bands - 1 && f == in_folds - 1; }

    bool last() const { return last_sequence() && oi == n - 1; }

    bool prefetches() const { return dbl && oi > 0 && !last_sequence(); }

    void next() {
        if (oi + 1 < n) {
            oi++;
            o++;
            return;
        }
        oi = 0;
        pre = dbl && n > 1;  // blocks 1 .. n - 1 of the sequence read the next one's fold
        half = dbl ? 1 - half : 0;
        o = o0;
        if (f + 1 < in_folds) {
            f++;
            left = f == folds_a ? padded_b : left - C::p_oc;
            set_lanes();
            return;
        }
        if (b + 1 < bands) {
            b++;
            row0 += band_rows;
        } else {
            b = 0;
            row0 = 0;
            o0 += n;
            n = imin(group, out_folds - o0);
            o = o0;
        }
        start_fold0();
    }

  private:
    void start_fold0() {
        f = 0;
        left = padded_a;
        row1 = imin(h, row0 + band_rows);
        read0 = imax(0, row0 - pad);
        read1 = imin(h, row1 + pad);
        set_lanes();
    }

    void set_lanes() {
        lanes = imin(C::p_oc, left);
        subfolds = (lanes + C::p_ic - 1) / C::p_ic;
    }
};

// Output geometry of stage 3 for an h x w conv output.
struct out_shape {
    int height;
    int width;
};

inline out_shape stage3_shape(int mode, int stride, int h, int w) {
    out_shape s;
    if (mode == STAGE3_MAXPOOL) {  // max-pool 2x2, darknet padding: (h + 1 - 2) / stride + 1, stride 1 or 2
        s.height = (stride == 2 ? (h - 1) >> 1 : h - 1) + 1;
        s.width = (stride == 2 ? (w - 1) >> 1 : w - 1) + 1;
    } else if (mode == STAGE3_UPSAMPLE) {  // upsample x2
        s.height = 2 * h;
        s.width = 2 * w;
    } else {
        s.height = h;
        s.width = w;
    }
    return s;
}

#ifdef ZYNQYOLO_NATIVE_TYPES

template <class C>
typename C::data_t get_lane(typename C::word_t w, int j) {
    return (typename C::data_t)(typename C::code_t)(w >> (j * C::bits));
}

template <class C>
void set_lane(typename C::word_t& w, int j, typename C::data_t v) {
    w |= (typename C::word_t)(typename C::code_t)v << (j * C::bits);
}

// Parameter entry j of a bus word (64-bit entries).
template <class C>
typename C::entry_t get_entry(typename C::word_t w, int j) {
    return (typename C::entry_t)(w >> (j * C::entry_bits));
}

template <class C>
param_t<C> decode_entry(typename C::entry_t e) {
    param_t<C> p;
    p.bias = (typename C::acc_t)((uint64_t)e << (64 - C::bias_bits)) >> (64 - C::bias_bits);
    p.shift = (typename C::shift_t)(((uint64_t)e >> C::bias_bits) & ((1u << C::shift_bits) - 1));
    return p;
}

// Two's complement wrap of an accumulator value to acc_bits (what ap_int<acc_bits> does).
template <class C>
typename C::acc_t wrap_acc(typename C::acc_t v) {
    return (typename C::acc_t)((uint64_t)v << (64 - C::acc_bits)) >> (64 - C::acc_bits);
}

#else

template <class C>
typename C::data_t get_lane(const typename C::word_t& w, int j) {
    typename C::data_t v;
    v.range(C::bits - 1, 0) = w.range(j * C::bits + C::bits - 1, j * C::bits);
    return v;
}

template <class C>
void set_lane(typename C::word_t& w, int j, typename C::data_t v) {
    w.range(j * C::bits + C::bits - 1, j * C::bits) = v.range(C::bits - 1, 0);
}

template <class C>
typename C::entry_t get_entry(const typename C::word_t& w, int j) {
    typename C::entry_t e = w.range(j * C::entry_bits + C::entry_bits - 1, j * C::entry_bits);
    return e;
}

template <class C>
param_t<C> decode_entry(const typename C::entry_t& e) {
    param_t<C> p;
    ap_int<C::bias_bits> bias;
    bias.range(C::bias_bits - 1, 0) = e.range(C::bias_bits - 1, 0);
    p.bias = bias;  // cut to acc_bits (the value fits: plan._check_formats)
    p.shift = e.range(C::bias_bits + C::shift_bits - 1, C::bias_bits);
    return p;
}

template <class C>
typename C::acc_t wrap_acc(const typename C::acc_t& v) {
    return v;
}

#endif

// x / 3 for x an exact multiple of 3 whose quotient fits BITS bits signed (model.winograd.exact_div3):
// the product with 3's inverse modulo 2^BITS, as shifts and additions. -1/3 = 0x...5555 = 5 * 17 *
// 257 * 65537 modulo 2^32, so four shift-adds of -x; T wraps at BITS (the native build wraps by
// hand). Stage 2 of an F(4x2) design divides a call's sums by it (zy_accumulate.h).
template <class T, int BITS>
T div3_exact(const T& x) {
#pragma HLS INLINE
    static_assert(BITS <= 32, "the inverse of 3 is taken modulo 2^32");
    const T n = T(0) - x;
    const T t1 = T(n + T(n << 2));
    const T t2 = T(t1 + T(t1 << 4));
    const T t3 = T(t2 + T(t2 << 8));
    const T t4 = T(t3 + T(t3 << 16));
#ifdef ZYNQYOLO_NATIVE_TYPES
    const uint64_t mask = (uint64_t(1) << BITS) - 1, sign = uint64_t(1) << (BITS - 1);
    return T(int64_t(((uint64_t(t4) & mask) ^ sign) - sign));
#else
    return t4;
#endif
}

}  // namespace zy

#endif  // ZY_COMMON_H
