// csim_bridge.cpp: a C ABI around the synthesis top for the C simulation (zynqyolo.hls.csim).
//
// One zy_call is one hardware call: the bridge fills the `in` and `wts` streams from word arrays
// (TLAST on the final word, as AXI DMA sends it), runs yolo_accel with the registers given in
// HwConfig.register_fields() order, drains `out` into the caller's arrays and reports the loop
// counters of the call (ZY_COUNTER_LABELS order) and the stream bookkeeping needed to tell a
// correct call from one that would hang the hardware.
#include <pthread.h>

#include <cstdint>

#include "yolo_accel.h"

#ifndef ZYNQYOLO_COUNTERS
#error "the csim bridge needs ZYNQYOLO_COUNTERS"
#endif

namespace {

#define ZY_BRIDGE_NAME(name, width, is_signed) #name ","
const char kRegisterNames[] = ZY_REGISTER_FIELDS(ZY_BRIDGE_NAME);
#undef ZY_BRIDGE_NAME

#define ZY_BRIDGE_COUNTER_NAME(name) #name ","
const char kCounterNames[] = ZY_COUNTER_LABELS(ZY_BRIDGE_COUNTER_NAME);
#undef ZY_BRIDGE_COUNTER_NAME

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
               r.yolo_shift);
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

const char* zy_hw_hash() { return ZYNQYOLO_HW_HASH; }
const char* zy_register_names() { return kRegisterNames; }
const char* zy_counter_names() { return kCounterNames; }

int zy_native() {
#ifdef ZYNQYOLO_NATIVE_TYPES
    return 1;
#else
    return 0;
#endif
}

// status[0] output words written, status[1] output words beyond out_capacity (dropped),
// status[2] `in` words left unread, status[3] `wts` words left unread, status[4] reads from an
// empty stream, status[5] words left in internal FIFOs. Returns 0, -1 for a bad argument, -2 when
// the call's thread could not be started.
int zy_call(const int64_t* regs, int n_regs, const uint64_t* in_words, int64_t n_in, const uint64_t* wts_words,
            int64_t n_wts, uint64_t* out_words, uint8_t* out_last, int64_t out_capacity, int64_t* status,
            uint64_t* counts, int n_counts) {
    if (n_regs != zy::REGISTER_FIELD_COUNT || n_counts != zy::CNT_COUNT) return -1;
    hls::stream<axis_word> in("in"), wts("wts"), out("out");
    for (int64_t i = 0; i < n_in; i++) in.write(make_beat(in_words[i], i == n_in - 1));
    for (int64_t i = 0; i < n_wts; i++) wts.write(make_beat(wts_words[i], i == n_wts - 1));

    zy::reset_counters();
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
    for (int i = 0; i < zy::CNT_COUNT; i++) counts[i] = zy::counters().value[i];
    return 0;
}

}  // extern "C"
