// zy_accel.h: the accelerator core, three stages wired as one DATAFLOW region.
//
// Design note
// - Processes and channels (all hls::stream FIFOs, each one producer and one consumer):
//     in --> read_input_stream --pix--> conv_stage --psum--> accumulate_stage --acc_out--> stage3
//                                wts --^          \---params---^                             |
//     out <-- write_output <------------------------------------------------------ s3_out --/
//   read_input_stream and write_output move one bus word per cycle; conv_stage (stage 1)
//   fires the p_oc x p_ic MAC array every cycle; accumulate_stage (stage 2) takes one pixel of partial
//   sums per cycle; stage3 handles stage3_lanes lanes per cycle.
// - Every process runs once per call and derives its loop bounds from the same registers, in
//   the same block order (o, b, f), so the FIFOs balance exactly: in a conv call stage 1 writes
//   one psum per output pixel and input fold, stage 2 one pixel per output pixel, stage 3 the
//   pool/upsample geometry. With conv_enable = 0 stages 1 and 2 forward pixels.
// - FIFO depths: the pixel and partial-sum channels are shallow (2): the stages run in
//   lockstep. `params` must absorb the preamble while stage 2 starts (stage 2 reads it first).
// - C simulation runs the processes one after the other; the csim build checks that every
//   internal FIFO is empty at the end (a mismatch would deadlock the hardware).
// What breaks if a parameter is wrong: registers outside their ranges (csim refuses them in
//   zynqyolo.hls.registers) make the processes disagree on stream lengths and the call hangs.
#ifndef ZY_ACCEL_H
#define ZY_ACCEL_H

#include "zy_accumulate.h"
#include "zy_common.h"
#include "zy_conv.h"
#include "zy_stage3.h"
#include "zy_stream_io.h"

namespace zy {

template <class C>
void accel(hls::stream<axis_word_t<C> >& in, hls::stream<axis_word_t<C> >& wts, hls::stream<axis_word_t<C> >& out,
          const registers& r) {
#pragma HLS DATAFLOW
    chan<pixel_t<C> > pix("pix");
#pragma HLS STREAM variable=pix depth=2
    chan<psum_t<C> > psum("psum");
#pragma HLS STREAM variable=psum depth=2
    chan<param_t<C> > params("params");
#pragma HLS STREAM variable=params depth=2
    chan<pixel_t<C> > acc_out("acc_out");
#pragma HLS STREAM variable=acc_out depth=2
    chan<pixel_t<C> > s3_out("s3_out");
#pragma HLS STREAM variable=s3_out depth=2

    read_input_stream<C>(in, pix, r);
    conv_stage<C>(pix, wts, params, psum, r);
    accumulate_stage<C>(psum, params, acc_out, r);
    stage3<C>(acc_out, s3_out, r);
    write_output<C>(s3_out, out, r);
    ZY_RECORD_LEFTOVER(pix.size() + psum.size() + params.size() + acc_out.size() + s3_out.size());
}

}  // namespace zy

#endif  // ZY_ACCEL_H
