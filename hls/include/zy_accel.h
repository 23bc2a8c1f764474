// zy_accel.h: the accelerator core, three stages wired as one DATAFLOW region.
//
// Design note
// - Processes and channels (all hls::stream FIFOs, each one producer and one consumer):
//     in --> read_input_stream --pix--> conv_stage --psum--> accumulate_stage --acc_out--> detile
//                                wts --^          \---params---^                               |
//     out <-- write_output <-- s3_out -- stage3 <-------------------------------------- raster --/
//   read_input_stream and write_output move one bus word per cycle; conv_stage (stage 1)
//   fires the p_oc x p_ic MAC array every cycle; accumulate_stage (stage 2) takes one pixel of partial
//   sums per cycle; detile (zy_detile.h) one pixel per cycle (it puts the Winograd path's tile order
//   into the order stage 3 needs); stage3 handles stage3_lanes lanes per cycle.
// - Every process runs once per call and derives its loop bounds from the same registers, in
//   the same block order (o, b, f), so the FIFOs balance exactly: in a conv call stage 1 writes
//   one psum per output pixel and input fold, stage 2 one pixel per output pixel, stage 3 the
//   pool/upsample geometry. With conv_enable = 0 stages 1 and 2 forward pixels.
// - FIFO depths: ZY_DEPTH_* of the generated header (zynqyolo.hls.header.FIFO_DEPTHS), used by
//   the STREAM pragmas (through ZY_PRAGMA, so the preprocessor expands the macro) and by the
//   threaded C simulation alike. Every channel is 2 deep but psum (8: an F(4x2) tile's pixels leave
//   in bursts), for throughput only: the stages run in
//   lockstep, and no depth is needed for freedom from deadlock (the one pair of paths, conv_stage to
//   accumulate_stage through `params` and `psum`, is read in the order it is written: stage 2 reads
//   the whole preamble before any partial sum). The threaded simulation shows it: every frame
//   completes bit-exact with all five channels at depth 1 (tests/test_threaded_csim.py). Every channel
//   is bound to shift registers (BIND_STORAGE impl=srl, UG1399): Vitis HLS's own choice keeps SRLs
//   only up to auto_srl_max_bits (1024 by default) and the psum channel alone is p_oc x acc_bits x 2
//   bits; dse.blocks.fifo charges them as SRLs.
// - C simulation, two flavours. Sequential: the processes run one after the other over unbounded
//   FIFOs, and the csim build checks that every internal FIFO is empty at the end (a mismatch
//   would deadlock the hardware). Threaded (ZYNQYOLO_THREADED_CSIM, hls/sim/zy_threaded.h): each
//   process on its own thread, each channel bounded at its depth, so a depth too shallow for the
//   order in which the processes produce and consume deadlocks, and the bridge reports the
//   streams involved.
// What breaks if a parameter is wrong: registers outside their ranges (csim refuses them in
//   zynqyolo.dse.registers) make the processes disagree on stream lengths and the call hangs.
#ifndef ZY_ACCEL_H
#define ZY_ACCEL_H

#include "zy_accumulate.h"
#include "zy_common.h"
#include "zy_detile.h"
#include "zy_stage1.h"
#include "zy_stage3.h"
#include "zy_stream_io.h"

namespace zy {

template <class C>
void accel(hls::stream<axis_word_t<C> >& in, hls::stream<axis_word_t<C> >& wts, hls::stream<axis_word_t<C> >& out,
          const registers& r) {
#pragma HLS DATAFLOW
    chan<pixel_t<C> > pix("pix");
    ZY_PRAGMA(HLS STREAM variable=pix depth=ZY_DEPTH_PIX)
    ZY_PRAGMA(HLS BIND_STORAGE variable=pix type=fifo impl=srl)
    chan<psum_t<C> > psum("psum");
    ZY_PRAGMA(HLS STREAM variable=psum depth=ZY_DEPTH_PSUM)
    ZY_PRAGMA(HLS BIND_STORAGE variable=psum type=fifo impl=srl)
    chan<param_t<C> > params("params");
    ZY_PRAGMA(HLS STREAM variable=params depth=ZY_DEPTH_PARAMS)
    ZY_PRAGMA(HLS BIND_STORAGE variable=params type=fifo impl=srl)
    chan<pixel_t<C> > acc_out("acc_out");
    ZY_PRAGMA(HLS STREAM variable=acc_out depth=ZY_DEPTH_ACC_OUT)
    ZY_PRAGMA(HLS BIND_STORAGE variable=acc_out type=fifo impl=srl)
    chan<pixel_t<C> > raster("raster");
    ZY_PRAGMA(HLS STREAM variable=raster depth=ZY_DEPTH_RASTER)
    ZY_PRAGMA(HLS BIND_STORAGE variable=raster type=fifo impl=srl)
    chan<pixel_t<C> > s3_out("s3_out");
    ZY_PRAGMA(HLS STREAM variable=s3_out depth=ZY_DEPTH_S3_OUT)
    ZY_PRAGMA(HLS BIND_STORAGE variable=s3_out type=fifo impl=srl)

    // A Winograd call's 2x2 stride-2 max-pool is done by detile: stage 3 bypasses the pooled map.
    registers r3 = r;
    if (tile_pool_call<C>(r)) {
        const out_shape pooled = stage3_shape(r.stage3, r.pool_stride, r.height, r.width);
        r3.stage3 = STAGE3_BYPASS;
        r3.height = pooled.height;
        r3.width = pooled.width;
    }

#ifdef ZYNQYOLO_THREADED_CSIM
    pix.set_depth(ZY_DEPTH_PIX);
    psum.set_depth(ZY_DEPTH_PSUM);
    params.set_depth(ZY_DEPTH_PARAMS);
    acc_out.set_depth(ZY_DEPTH_ACC_OUT);
    raster.set_depth(ZY_DEPTH_RASTER);
    s3_out.set_depth(ZY_DEPTH_S3_OUT);
    sim::dataflow region;
    region.process("read_input_stream", [&] { read_input_stream<C>(in, pix, r); });
    region.process("conv_stage", [&] { conv_stage<C>(pix, wts, params, psum, r); });
    region.process("accumulate_stage", [&] { accumulate_stage<C>(psum, params, acc_out, r); });
    region.process("detile", [&] { detile<C>(acc_out, raster, r); });
    region.process("stage3", [&] { stage3<C>(raster, s3_out, r3); });
    region.process("write_output", [&] { write_output<C>(s3_out, out, r); });
    region.join();  // a deadlock is reported through sim::last_report()
#else
    read_input_stream<C>(in, pix, r);
    conv_stage<C>(pix, wts, params, psum, r);
    accumulate_stage<C>(psum, params, acc_out, r);
    detile<C>(acc_out, raster, r);
    stage3<C>(raster, s3_out, r3);
    write_output<C>(s3_out, out, r);
#endif
    ZY_RECORD_LEFTOVER(pix.size() + psum.size() + params.size() + acc_out.size() + raster.size() + s3_out.size());
}

}  // namespace zy

#endif  // ZY_ACCEL_H
