// zy_stream_io.h: the two ends of the pipeline, bus words <-> fold pixels.
//
// Design note
// - read_input_stream (loop CONV_READ, II 1, one bus word per cycle): unpacks the `in` stream into
//   p_oc-lane pixels. A pixel of a fold with L lanes is L / lanes_per_word words; lanes >= L
//   are 0. Stream order of a conv call: for out fold o, band b, input fold f: the input rows
//   [r0 - pad, r1 + pad) clipped to [0, height) of fold f, row-major; of a bypass call: the
//   whole tensor once, fold by fold. The same order drives stage 1, so the two must agree
//   (block_walker in zy_common.h is the single description of a block).
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

// Unpack `rows` x `width` pixels of a fold with `lanes` lanes from the input stream.
template <class C>
void read_fold_pixels(hls::stream<axis_word_t<C> >& in, chan<pixel_t<C> >& pix, int lanes, int rows, int width) {
    const int WORDS_MAX = C::p_oc / C::lanes_per_word;
    const int last_word = lanes / C::lanes_per_word - 1;  // words of a pixel - 1
    pixel_t<C> px = pixel_t<C>();  // lanes >= `lanes` stay 0
    int wi = 0, x = 0, y = 0;
CONV_READ:
    for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
        ZY_COUNT(CONV_READ);
        const typename C::word_t w = checked_read(in).data;
        for (int q = 0; q < WORDS_MAX; q++) {
#pragma HLS UNROLL
            if (q == wi) {
                for (int j = 0; j < C::lanes_per_word; j++) {
#pragma HLS UNROLL
                    px.lane[q * C::lanes_per_word + j] = get_lane<C>(w, j);
                }
            }
        }
        if (wi == last_word) {
            pix.write(px);
            wi = 0;
            done = next_raster(x, y, width - 1, rows - 1);
        } else {
            wi++;
        }
    }
}

// The input stream of a call: for a conv call the band's input rows of every block that streams
// them (block_walker order; a group's later out folds reuse them); for a bypass call every fold of
// the tensor once.
template <class C>
void read_input_stream(hls::stream<axis_word_t<C> >& in, chan<pixel_t<C> >& pix, const registers& r) {
    if (!r.conv_enable) {
        for (fold_cursor c = first_fold<C>(r.in_channels_a); c.left > 0; next_fold<C>(c)) {
            read_fold_pixels<C>(in, pix, c.lanes, r.height, r.width);
        }
        return;
    }
    block_walker<C> g;
    g.start(r);
    for (bool last = false; !last; g.next()) {
        last = g.last();
        if (g.streamed()) read_fold_pixels<C>(in, pix, g.lanes, g.read1 - g.read0, r.width);
    }
}

// Stage-3 pixels -> output bus words (fold-major), last = 1 on the call's final word.
template <class C>
void write_output(chan<pixel_t<C> >& pix, hls::stream<axis_word_t<C> >& out, const registers& r) {
    const int WORDS_MAX = C::p_oc / C::lanes_per_word;
    const out_shape shape = stage3_shape(r.stage3, r.pool_stride, r.height, r.width);
    int base = 0;  // channel of lane 0 of this fold
    for (fold_cursor c = first_fold<C>(r.out_channels); c.left > 0; next_fold<C>(c)) {
        const int last_word = c.lanes / C::lanes_per_word - 1;
        const bool last_fold = c.left <= C::p_oc;
        pixel_t<C> px;
        int wi = 0, x = 0, y = 0;
    OUT_WRITE:
        for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
            ZY_COUNT(OUT_WRITE);
            if (wi == 0) px = checked_read(pix);
            axis_word_t<C> beat;
            beat.data = 0;
            for (int q = 0; q < WORDS_MAX; q++) {
#pragma HLS UNROLL
                if (q == wi) {
                    for (int j = 0; j < C::lanes_per_word; j++) {
#pragma HLS UNROLL
                        const int lane = q * C::lanes_per_word + j;
                        const typename C::data_t v = base + lane < (int)r.out_channels ? px.lane[lane]
                                                                                        : typename C::data_t(0);
                        set_lane<C>(beat.data, j, v);
                    }
                }
            }
            const bool pixel_end = wi == last_word;
            done = pixel_end && x == shape.width - 1 && y == shape.height - 1;
            beat.keep = -1;
            beat.strb = -1;
            beat.last = last_fold && done ? 1 : 0;
            out.write(beat);
            if (pixel_end) {
                wi = 0;
                next_raster(x, y, shape.width - 1, shape.height - 1);
            } else {
                wi++;
            }
        }
        base += C::p_oc;
    }
}

}  // namespace zy

#endif  // ZY_STREAM_IO_H
