// zy_stage1.h: stage 1, the convolution engine: the parameter preamble, then the direct path
// (zy_conv.h) or, in a Winograd design for the calls the plan marks, the Winograd path
// (zy_winograd.h). Both share the line buffer, the weight buffer and the MAC array.
//
// Design note
// - Dataflow process between read_input_stream and stage 2. First the preamble (loop PREAMBLE):
//   out_folds * p_oc entries (bias, shift) forwarded to stage 2; then the call's blocks.
// - One MAC array: the two paths are different loops of this one function that never run at once;
//   their products have the same operand types in a Winograd design (U x V, wu_bits x wv_bits; the
//   direct path's codes sign-extended), both are inlined into conv_stage, and ALLOCATION there limits
//   the multipliers to p_oc * p_ic (ZY_MAC_UNITS), so the tool binds both loops to the same DSPs (the
//   HLS report's DSP count against the model checks it: hls.tools).
// - conv_enable = 0: the stage forwards the input pixels (loop CONV_BYPASS).
#ifndef ZY_STAGE1_H
#define ZY_STAGE1_H

#include "zy_conv.h"
#include "zy_winograd.h"

namespace zy {

// The Winograd path exists in Winograd designs only (a direct design never instantiates it).
template <class C>
void wino_path(chan<pixel_t<C> >&, hls::stream<axis_word_t<C> >&, chan<psum_t<C> >&,
               typename C::data_t[C::line_rows][C::max_width][C::p_oc],
               typename C::wb_t[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH], const registers&,
               std::false_type) {}

template <class C>
void wino_path(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& wts, chan<psum_t<C> >& psum,
               typename C::data_t line[C::line_rows][C::max_width][C::p_oc],
               typename C::wb_t wbuf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH], const registers& r,
               std::true_type) {
#pragma HLS INLINE
    wino_blocks<C>(pix, wts, psum, line, wbuf, r);
}

template <class C>
void conv_stage(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& wts, chan<param_t<C> >& params,
                chan<psum_t<C> >& psum, const registers& r) {
    static_assert(checks<C>::ok, "configuration checks");
    typedef typename C::word_t word_t;
    const int ENTRIES_PER_WORD = C::bus_bits / C::entry_bits;
    const int PREAMBLE_WORDS_PER_FOLD = C::p_oc / ENTRIES_PER_WORD;

    if (!r.conv_enable) {
        conv_bypass<C>(pix, psum, r);
        return;
    }

    for (int o = 0; o < (int)r.out_folds; o++) {
    PREAMBLE:
        for (int i = 0; i < PREAMBLE_WORDS_PER_FOLD; i++) {
#pragma HLS PIPELINE II=1
            ZY_COUNT(PREAMBLE);
            const word_t w = checked_read(wts).data;
            for (int j = 0; j < ENTRIES_PER_WORD; j++) {
                params.write(decode_entry<C>(get_entry<C>(w, j)));
            }
        }
    }

    typename C::data_t line[C::line_rows][C::max_width][C::p_oc];
#pragma HLS ARRAY_RESHAPE variable=line dim=3 complete
    ZY_BIND_STORAGE(line, ram_s2p, ZY_IMPL_LINE)
    typename C::wb_t wbuf[wbuf_geom<C>::MEMS][wbuf_geom<C>::WORD][wbuf_geom<C>::DEPTH];
    // MEMS memories, each word the entries of G bank words of a slice: the loaders write a whole
    // memory word at a time and the MAC array reads every memory at one address, so the entries share
    // one memory word (a BRAM's width holds several 12- or 20-bit entries; G fills it).
#pragma HLS ARRAY_PARTITION variable=wbuf dim=1 complete
#pragma HLS ARRAY_RESHAPE variable=wbuf dim=2 complete
    ZY_BIND_STORAGE(wbuf, ram_s2p, ZY_IMPL_WEIGHTS)
    // The direct and the Winograd loops never run at once: one MAC array serves both (both paths are
    // inlined here, so the limit covers their loops; UG1399: it does not reach into sub-functions).
    ZY_PRAGMA(HLS ALLOCATION operation instances=mul limit=ZY_MAC_UNITS)
    if (C::winograd_engine && r.winograd) {
        wino_path<C>(pix, wts, psum, line, wbuf, r, std::integral_constant<bool, C::winograd_engine>());
    } else {
        direct_blocks<C>(pix, wts, psum, line, wbuf, r);
    }
}


}  // namespace zy

#endif  // ZY_STAGE1_H
