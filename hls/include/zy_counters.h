// zy_counters.h: loop-iteration counters and checked stream reads for the C simulation.
//
// Design note
// - Every pipelined loop of the kernels calls ZY_COUNT(LABEL) once per iteration, LABEL being
//   the loop's own label, named after the latency-model term it feeds (CONV_MAC, ACC, ...).
//   Defining ZYNQYOLO_COUNTERS (the csim build does) turns the counters on; a synthesis build
//   (__SYNTHESIS__) or any build without the macro compiles them to nothing, so they never
//   reach hardware.
// - zy::checked_read(s) is hls::stream::read plus, in counter builds, a count of reads from an
//   empty stream (a producer/consumer mismatch that would hang the real hardware). The csim
//   bridge turns a non-zero count into an error, as it does for data left in an internal FIFO
//   after a call (ZY_RECORD_LEFTOVER).
// - The threaded C simulation (ZYNQYOLO_THREADED_CSIM, hls/sim/zy_threaded.h) runs every process on
//   its own thread: each label's counter is an atomic on its own cache line, and checked_read waits
//   as the hardware does. An empty internal FIFO waits for its writer; an empty external stream
//   (the call's `in` or `wts`, filled before the call) never refills, so its read waits until the
//   deadlock report names it. There a mismatch is a reported deadlock, not a count.
// - Adding a loop: add its label to ZY_COUNTER_LABELS; the bridge exports the names in order.
// What breaks if this is wrong: a loop without ZY_COUNT is invisible to the latency model's
//   calibration; a label missing from ZY_COUNTER_LABELS does not compile.
#ifndef ZY_COUNTERS_H
#define ZY_COUNTERS_H

#include <hls_stream.h>
#if defined(ZYNQYOLO_THREADED_CSIM) && !defined(__SYNTHESIS__)
#include <atomic>

#include "zy_threaded.h"
#endif

#define ZY_COUNTER_LABELS(X) \
    X(CONV_READ)             \
    X(PREAMBLE)              \
    X(WEIGHT_LOAD)           \
    X(LINE_FILL)             \
    X(CONV_MAC)              \
    X(WINO_LOAD)             \
    X(WINO_PRELOAD)          \
    X(CONV_WINO)             \
    X(WINO_DRAIN)            \
    X(CONV_BYPASS)           \
    X(BIAS_LOAD)             \
    X(ACC)                   \
    X(ACC_BYPASS)            \
    X(DETILE)                \
    X(DETILE_ROW)            \
    X(YOLO_PHASE)            \
    X(STAGE3)                \
    X(OUT_WRITE)

namespace zy {

enum counter_label {
#define ZY_COUNTER_ENUM(name) CNT_##name,
    ZY_COUNTER_LABELS(ZY_COUNTER_ENUM)
#undef ZY_COUNTER_ENUM
    CNT_COUNT
};

#if defined(ZYNQYOLO_COUNTERS) && !defined(__SYNTHESIS__)

#ifdef ZYNQYOLO_THREADED_CSIM
struct counter_cell {
    alignas(64) std::atomic<unsigned long long> n;  // one cache line per label: processes count at once
};
#define ZY_COUNT(label) (::zy::counters().value[::zy::CNT_##label].n.fetch_add(1, std::memory_order_relaxed))
#else
struct counter_cell {
    unsigned long long n;
};
#define ZY_COUNT(label) (++::zy::counters().value[::zy::CNT_##label].n)
#endif

struct counter_state {
    counter_cell value[CNT_COUNT];
    unsigned long long empty_reads;
    unsigned long long leftover;  // words left in internal FIFOs after a call
};

inline counter_state& counters() {
    static counter_state state;
    return state;
}

inline void reset_counters() {
    for (int i = 0; i < CNT_COUNT; i++) counters().value[i].n = 0;
    counters().empty_reads = 0;
    counters().leftover = 0;
}

inline unsigned long long counter_value(int label) { return counters().value[label].n; }

#define ZY_RECORD_LEFTOVER(n) (::zy::counters().leftover += (n))

#else

#define ZY_COUNT(label) ((void)0)
#define ZY_RECORD_LEFTOVER(n) ((void)0)

#endif

#if defined(ZYNQYOLO_THREADED_CSIM) && !defined(__SYNTHESIS__)

template <class T>
T checked_read(hls::stream<T>& s) {
    if (s.empty()) {
        sim::wait_external(s);
        return T();
    }
    const T v = s.read();
    sim::external_op();
    return v;
}

template <class T>
T checked_read(sim::fifo<T>& s) {
    return s.read();
}

#elif defined(ZYNQYOLO_COUNTERS) && !defined(__SYNTHESIS__)

template <class T>
T checked_read(hls::stream<T>& s) {
    if (s.empty()) {
        ++counters().empty_reads;
        return T();
    }
    return s.read();
}

#else

template <class T>
T checked_read(hls::stream<T>& s) {
#pragma HLS INLINE
    return s.read();
}

#endif

}  // namespace zy

#endif  // ZY_COUNTERS_H
