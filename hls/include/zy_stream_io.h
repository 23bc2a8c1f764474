// zy_stream_io.h: the two ends of the pipeline, bus words <-> fold pixels.
//
// Design note
// - read_input_stream (loop CONV_READ, II 1, one bus word per cycle): unpacks the `in` stream into
//   p_oc-lane pixels. A pixel of a fold with L lanes is L / lanes_per_word words; lanes >= L
//   are 0. Stream order of a conv call: for out fold o, band b, input fold f: the input rows
//   [r0 - pad, r1 + pad) clipped to [0, height) of fold f, row-major; of a bypass call: the
//   whole tensor once, fold by fold. The same order drives stage 1, so the two must agree
//   (make_block in zy_common.h is the single description of a block).
// - write_output (loop OUT_WRITE, II 1, one word per cycle): packs each stage-3 pixel of fold o
//   into fold_lanes(out_channels, o) / lanes_per_word words; lanes of channels >= out_channels
//   are forced to 0 (padding lanes); the last word of the call carries last = 1, so the whole
//   output is one fold-major tensor moved by one S2MM transfer.
// - 1x1 convs consume a pixel every S_f cycles but a full pixel takes L / lanes_per_word words
//   (6 words for 24 16-bit lanes on a 64-bit bus): the input port, not the MAC array, bounds
//   1x1 layers. The latency model charges max(CONV_MAC, CONV_READ) per call.
#ifndef ZY_STREAM_IO_H
#define ZY_STREAM_IO_H

#include "zy_common.h"

namespace zy {

// Unpack `pixels` pixels of a fold with `lanes` lanes from the input stream.
template <class C>
void read_fold_pixels(hls::stream<axis_word_t<C> >& in, chan<pixel_t<C> >& pix, int lanes, int pixels) {
    const int words_per_pixel = lanes / C::lanes_per_word;
    const int words = pixels * words_per_pixel;
    pixel_t<C> px = pixel_t<C>();  // lanes >= `lanes` stay 0
    int wi = 0;
CONV_READ:
    for (int i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
        ZY_COUNT(CONV_READ);
        const typename C::word_t w = checked_read(in).data;
        for (int j = 0; j < C::lanes_per_word; j++) {
#pragma HLS UNROLL
            px.lane[wi * C::lanes_per_word + j] = get_lane<C>(w, j);
        }
        if (wi == words_per_pixel - 1) {
            pix.write(px);
            wi = 0;
        } else {
            wi++;
        }
    }
}

// The input stream of a call: for a conv call the band's input rows of every block (o, b, f)
// (o, b, f) order; for a bypass call every fold of the tensor once.
template <class C>
void read_input_stream(hls::stream<axis_word_t<C> >& in, chan<pixel_t<C> >& pix, const registers& r) {
    if (!r.conv_enable) {
        const int folds = fold_count<C>(r.in_channels_a);
        for (int f = 0; f < folds; f++) {
            read_fold_pixels<C>(in, pix, fold_lanes<C>(r.in_channels_a, f), r.height * r.width);
        }
        return;
    }
    const int in_folds = in_fold_count<C>(r.in_channels_a, r.in_channels_b);
    for (int o = 0; o < (int)r.out_folds; o++) {
        for (int b = 0; b < (int)r.bands; b++) {
            for (int f = 0; f < in_folds; f++) {
                const block_geom g = make_block<C>(r, b, f);
                read_fold_pixels<C>(in, pix, g.lanes, (g.read1 - g.read0) * r.width);
            }
        }
    }
}

// Stage-3 pixels -> output bus words (fold-major), last = 1 on the call's final word.
template <class C>
void write_output(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& out, const registers& r) {
    const int channels = r.out_channels;
    const int folds = r.out_folds;
    const out_shape shape = stage3_shape(r.stage3, r.pool_stride, r.height, r.width);
    const int pixels = shape.height * shape.width;
    for (int o = 0; o < folds; o++) {
        const int words_per_pixel = fold_lanes<C>(channels, o) / C::lanes_per_word;
        const int words = pixels * words_per_pixel;
        const int base = o * C::p_oc;
        pixel_t<C> px;
        int wi = 0;
    OUT_WRITE:
        for (int i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
            ZY_COUNT(OUT_WRITE);
            if (wi == 0) px = checked_read(pix);
            axis_word_t<C> beat;
            beat.data = 0;
            for (int j = 0; j < C::lanes_per_word; j++) {
#pragma HLS UNROLL
                const int lane = wi * C::lanes_per_word + j;
                const typename C::data_t v = base + lane < channels ? px.lane[lane] : typename C::data_t(0);
                set_lane<C>(beat.data, j, v);
            }
            beat.keep = -1;
            beat.strb = -1;
            beat.last = (o == folds - 1 && i == words - 1) ? 1 : 0;
            out.write(beat);
            wi = wi == words_per_pixel - 1 ? 0 : wi + 1;
        }
    }
}

}  // namespace zy

#endif  // ZY_STREAM_IO_H
