// csim_bridge.cpp: a C ABI around the synthesis top for the C simulation (zynqyolo.hls.csim).
//
// One zy_call is one hardware call: the bridge fills the `in` and `wts` streams from word arrays
// (TLAST on the final word, as AXI DMA sends it), runs yolo_accel with the registers given in
// HwConfig.register_fields() order, drains `out` into the caller's arrays and reports the loop
// counters of the call (ZY_COUNTER_LABELS order) and the stream bookkeeping needed to tell a
// correct call from one that would hang the hardware.
//
// Built with ZYNQYOLO_THREADED_CSIM (the threaded flavour, hls/sim/zy_threaded.h) the call's
// processes run on threads over FIFOs bounded at the header's depths; a deadlock fails the call
// (-3) and zy_last_error() says which streams, of which depths, full or empty, blocked whom.
#include <pthread.h>

#include <cstdint>
#include <string>

#include "yolo_accel.h"

#ifndef ZYNQYOLO_COUNTERS
#error "the csim bridge needs ZYNQYOLO_COUNTERS"
#endif

// The library is built with hidden visibility (zynqyolo.hls.csim.CXX_FLAGS): only these functions
// are its interface, and no kernel state is shared with another csim library in the same process.
#define ZY_EXPORT __attribute__((visibility("default")))

namespace {

#define ZY_BRIDGE_NAME(name, width, is_signed) #name ","
const char kRegisterNames[] = ZY_REGISTER_FIELDS(ZY_BRIDGE_NAME);
#undef ZY_BRIDGE_NAME

#define ZY_BRIDGE_COUNTER_NAME(name) #name ","
const char kCounterNames[] = ZY_COUNTER_LABELS(ZY_BRIDGE_COUNTER_NAME);
#undef ZY_BRIDGE_COUNTER_NAME

std::string fifo_depths() {
    std::string text;
#define ZY_BRIDGE_DEPTH(name, depth) text += std::string(#name "=") + std::to_string(depth) + ",";
    ZY_FIFO_DEPTHS(ZY_BRIDGE_DEPTH)
#undef ZY_BRIDGE_DEPTH
    return text;
}
const std::string kFifoDepths = fifo_depths();

std::string last_error;  // the report of the last failed call

// The kernels keep their buffers (line buffer, weight buffers, partial-sum tile) on the stack, as
// HLS locals; a call runs on its own thread with a stack large enough for any design point, so
// the caller's thread (a Python worker thread, say) needs no special stack size.
const size_t kCallStackBytes = size_t(1) << 30;

struct CallArgs {
    hls::stream<axis_word>* in;
    hls::stream<axis_word>* wts;
    hls::stream<axis_word>* out;
    zy::registers regs;
};

void* run_call(void* p) {
    CallArgs* a = static_cast<CallArgs*>(p);
    const zy::registers& r = a->regs;
    yolo_accel(*a->in, *a->wts, *a->out, r.conv_enable, r.leaky, r.ksize, r.stage3, r.pool_stride, r.height, r.width,
               r.in_channels_a, r.in_channels_b, r.out_channels, r.out_folds, r.bands, r.band_rows, r.yolo_period,
               r.yolo_shift, r.winograd, r.out_group);
    return nullptr;
}

axis_word make_beat(uint64_t data, bool last) {
    axis_word beat;
    beat.data = data;
    beat.keep = -1;
    beat.last = last ? 1 : 0;
    return beat;
}

}  // namespace

extern "C" {

ZY_EXPORT const char* zy_hw_hash() { return ZYNQYOLO_HW_HASH; }
ZY_EXPORT const char* zy_register_names() { return kRegisterNames; }
ZY_EXPORT const char* zy_counter_names() { return kCounterNames; }

ZY_EXPORT int zy_native() {
#ifdef ZYNQYOLO_NATIVE_TYPES
    return 1;
#else
    return 0;
#endif
}

ZY_EXPORT int zy_threaded() {
#ifdef ZYNQYOLO_THREADED_CSIM
    return 1;
#else
    return 0;
#endif
}

// "name=depth," for every internal FIFO, in ZY_FIFO_DEPTHS order (the header's, or a build's -D).
ZY_EXPORT const char* zy_fifo_depths() { return kFifoDepths.c_str(); }

// Why the last call returned -3 (empty after a call that ran through).
ZY_EXPORT const char* zy_last_error() { return last_error.c_str(); }

// status[0] output words written, status[1] output words beyond out_capacity (dropped),
// status[2] `in` words left unread, status[3] `wts` words left unread, status[4] reads from an
// empty stream, status[5] words left in internal FIFOs. Returns 0, -1 for a bad argument, -2 when
// the call's thread could not be started, -3 when the threaded flavour found the call deadlocked
// (zy_last_error() has the report; outputs and status are then meaningless).
ZY_EXPORT int zy_call(const int64_t* regs, int n_regs, const uint64_t* in_words, int64_t n_in,
                      const uint64_t* wts_words, int64_t n_wts, uint64_t* out_words, uint8_t* out_last,
                      int64_t out_capacity, int64_t* status, uint64_t* counts, int n_counts) {
    if (n_regs != zy::REGISTER_FIELD_COUNT || n_counts != zy::CNT_COUNT) return -1;
    hls::stream<axis_word> in("in"), wts("wts"), out("out");
    for (int64_t i = 0; i < n_in; i++) in.write(make_beat(in_words[i], i == n_in - 1));
    for (int64_t i = 0; i < n_wts; i++) wts.write(make_beat(wts_words[i], i == n_wts - 1));

    zy::reset_counters();
    last_error.clear();
#ifdef ZYNQYOLO_THREADED_CSIM
    zy::sim::clear_report();
#endif
    CallArgs args;
    args.in = &in;
    args.wts = &wts;
    args.out = &out;
    int index = 0;
#define ZY_BRIDGE_SET(name, width, is_signed) args.regs.name = (zy::reg_##name##_t)regs[index++];
    ZY_REGISTER_FIELDS(ZY_BRIDGE_SET)
#undef ZY_BRIDGE_SET
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) != 0) return -2;
    pthread_attr_setstacksize(&attr, kCallStackBytes);
    const int started = pthread_create(&thread, &attr, run_call, &args);
    pthread_attr_destroy(&attr);
    if (started != 0) return -2;
    pthread_join(thread, nullptr);
#ifdef ZYNQYOLO_THREADED_CSIM
    last_error = zy::sim::last_report();
#endif

    int64_t written = 0, dropped = 0;
    while (!out.empty()) {
        const axis_word beat = out.read();
        if (written < out_capacity) {
            out_words[written] = (uint64_t)beat.data;
            out_last[written] = (uint8_t)beat.last;
            written++;
        } else {
            dropped++;
        }
    }
    int64_t in_left = 0, wts_left = 0;
    while (!in.empty()) {
        in.read();
        in_left++;
    }
    while (!wts.empty()) {
        wts.read();
        wts_left++;
    }
    status[0] = written;
    status[1] = dropped;
    status[2] = in_left;
    status[3] = wts_left;
    status[4] = (int64_t)zy::counters().empty_reads;
    status[5] = (int64_t)zy::counters().leftover;
    for (int i = 0; i < zy::CNT_COUNT; i++) counts[i] = zy::counter_value(i);
    return last_error.empty() ? 0 : -3;
}

}  // extern "C"
