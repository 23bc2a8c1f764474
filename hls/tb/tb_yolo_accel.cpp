// C testbench of the accelerator top for Vivado/Vitis HLS csim_design and cosim_design.
//
// Design note. The testbench holds no data and no knowledge of the network: it replays calls
// from a vectors file written by zynqyolo.hls.vectors (argv[1]) and compares the output stream
// word for word. Each call gives the AXI-Lite register values by name, the words of the
// feature-map input stream ("in", DMA0 MM2S), of the parameter stream ("wts", DMA1 MM2S) and
// the expected output stream ("out", DMA0 S2MM).
//
// It adapts to the top's signature by template deduction, so it compiles against either form:
//   void yolo_accel(hls::stream<I>& in, hls::stream<P>& wts, hls::stream<O>& out, <one argument
//                   per register field, in HwConfig.register_fields() order>);
//   void yolo_accel(hls::stream<I>& in, hls::stream<P>& wts, hls::stream<O>& out, zy::registers regs);
// An input stream element is either a plain ap_uint<bus_bits> or an AXI4-Stream struct with a
// `data` member and optional `keep`, `strb` and `last` members; with `last`, the input words carry
// TLAST on the last word of the call (what one DMA transfer gives). The output element must have
// `keep` and `last` (ap_axiu / hls::axis: Vitis HLS gives a user struct no side channels) and
// carry TLAST on its last word only: AXI DMA S2MM completes a transfer only on TLAST (PG021).
//
// What breaks: a vectors file made for another design point is refused (ZYNQYOLO_HW_HASH); a
// top with another argument list fails to compile with a static_assert naming the expected form.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hls_stream.h"
#include "zynqyolo_config.h"
#include "yolo_accel_decl.h"

namespace {

constexpr int kChunks = zy::config::bus_bits / 64;  // 64-bit chunks per bus word, low chunk first
static_assert(zy::config::bus_bits % 64 == 0, "the vectors file stores bus words as 64-bit chunks");

const char* const kRegisterNames[] = {
#define ZY_TB_REGISTER_NAME(name, width, is_signed) #name,
    ZY_REGISTER_FIELDS(ZY_TB_REGISTER_NAME)
#undef ZY_TB_REGISTER_NAME
};

struct Call {
    std::string name;
    std::vector<long long> regs;  // in register-field order
    std::vector<uint64_t> in, wts, out;  // kChunks chunks per bus word
};

// --- stream element access: plain ap_uint or an AXI4-Stream struct -----------------------------

template <typename T, typename = void> struct has_keep : std::false_type {};
template <typename T> struct has_keep<T, decltype((void)std::declval<T&>().keep)> : std::true_type {};
template <typename T, typename = void> struct has_strb : std::false_type {};
template <typename T> struct has_strb<T, decltype((void)std::declval<T&>().strb)> : std::true_type {};
template <typename T, typename = void> struct has_last : std::false_type {};
template <typename T> struct has_last<T, decltype((void)std::declval<T&>().last)> : std::true_type {};

// The bus word of an element: its `data` member if it has one (preferred by the int overload), else itself.
template <typename T> auto bits_of(T& w, int) -> decltype(&w.data) { return &w.data; }
template <typename T> T* bits_of(T& w, long) { return &w; }

template <typename T> typename std::enable_if<has_keep<T>::value>::type set_keep(T& w) { w.keep = -1; }
template <typename T> typename std::enable_if<!has_keep<T>::value>::type set_keep(T&) {}
template <typename T> typename std::enable_if<has_strb<T>::value>::type set_strb(T& w) { w.strb = -1; }
template <typename T> typename std::enable_if<!has_strb<T>::value>::type set_strb(T&) {}
template <typename T> typename std::enable_if<has_last<T>::value>::type set_last(T& w, bool v) { w.last = v; }
template <typename T> typename std::enable_if<!has_last<T>::value>::type set_last(T&, bool) {}
template <typename T> typename std::enable_if<has_last<T>::value, int>::type get_last(const T& w) { return w.last ? 1 : 0; }
template <typename T> typename std::enable_if<!has_last<T>::value, int>::type get_last(const T&) { return -1; }

template <typename T>
void push_words(hls::stream<T>& s, const std::vector<uint64_t>& chunks) {
    const size_t n = chunks.size() / kChunks;
    for (size_t i = 0; i < n; ++i) {
        T w;
        auto* bits = bits_of(w, 0);
        for (int k = 0; k < kChunks; ++k) bits->range(64 * k + 63, 64 * k) = chunks[i * kChunks + k];
        set_keep(w);
        set_strb(w);
        set_last(w, i + 1 == n);
        s.write(w);
    }
}

// --- calling the top: one argument per register field, or the zy::registers struct -------------

template <typename I, typename P, typename O, typename... R, std::size_t... K>
void call_scalars(void (*top)(hls::stream<I>&, hls::stream<P>&, hls::stream<O>&, R...), hls::stream<I>& in,
                  hls::stream<P>& wts, hls::stream<O>& out, const std::vector<long long>& regs,
                  std::index_sequence<K...>) {
    top(in, wts, out, typename std::decay<R>::type(regs[K])...);
}

template <typename I, typename P, typename O, typename... R>
void invoke(void (*top)(hls::stream<I>&, hls::stream<P>&, hls::stream<O>&, R...), hls::stream<I>& in,
            hls::stream<P>& wts, hls::stream<O>& out, const std::vector<long long>& regs) {
    static_assert(sizeof...(R) == zy::REGISTER_FIELD_COUNT,
                  "yolo_accel must take (in, wts, out) streams followed by one argument per register field "
                  "in HwConfig.register_fields() order, or by one zy::registers");
    call_scalars(top, in, wts, out, regs, std::index_sequence_for<R...>{});
}

template <typename I, typename P, typename O, typename S,
          typename = typename std::enable_if<std::is_same<typename std::decay<S>::type, zy::registers>::value>::type>
void invoke(void (*top)(hls::stream<I>&, hls::stream<P>&, hls::stream<O>&, S), hls::stream<I>& in,
            hls::stream<P>& wts, hls::stream<O>& out, const std::vector<long long>& regs) {
    zy::registers r;
    int k = 0;
#define ZY_TB_REGISTER_SET(name, width, is_signed) r.name = regs[k++];
    ZY_REGISTER_FIELDS(ZY_TB_REGISTER_SET)
#undef ZY_TB_REGISTER_SET
    top(in, wts, out, r);
}

template <typename I, typename P, typename O, typename... R>
int run_call(void (*top)(hls::stream<I>&, hls::stream<P>&, hls::stream<O>&, R...), const Call& c) {
    static_assert(has_keep<O>::value && has_last<O>::value,
                  "the top's output stream must carry TKEEP and TLAST (ap_axiu<bus_bits, 0, 0, 0> or hls::axis): "
                  "AXI DMA S2MM completes a transfer only on TLAST");
    hls::stream<I> in;
    hls::stream<P> wts;
    hls::stream<O> out;
    push_words(in, c.in);
    push_words(wts, c.wts);
    invoke(top, in, wts, out, c.regs);

    int errors = 0;
    const size_t expected = c.out.size() / kChunks;
    size_t got = 0;
    while (!out.empty()) {
        O w = out.read();
        auto* bits = bits_of(w, 0);
        if (got < expected) {
            for (int k = 0; k < kChunks; ++k) {
                const uint64_t v = bits->range(64 * k + 63, 64 * k).to_uint64();
                const uint64_t e = c.out[got * kChunks + k];
                if (v != e && errors++ < 8)
                    std::printf("  %s: output word %zu chunk %d: got %016llx, expected %016llx\n", c.name.c_str(),
                                got, k, (unsigned long long)v, (unsigned long long)e);
            }
        }
        const int last = get_last(w);
        if (last >= 0 && last != (got + 1 == expected ? 1 : 0) && errors++ < 8)
            std::printf("  %s: output word %zu: TLAST=%d (must be set on word %zu only)\n", c.name.c_str(), got, last,
                        expected - 1);
        ++got;
    }
    if (got != expected) {
        std::printf("  %s: %zu output words, expected %zu\n", c.name.c_str(), got, expected);
        ++errors;
    }
    if (!in.empty() || !wts.empty()) {
        std::printf("  %s: the top left %zu input and %zu parameter words unread\n", c.name.c_str(),
                    (size_t)in.size(), (size_t)wts.size());
        ++errors;
    }
    return errors;
}

// --- vectors file ------------------------------------------------------------------------------

bool read_words(std::ifstream& f, const char* kind, std::vector<uint64_t>& words) {
    std::string tag;
    size_t n = 0;
    if (!(f >> tag >> n) || tag != kind) {
        std::printf("vectors: expected '%s <count>'\n", kind);
        return false;
    }
    words.resize(n * kChunks);
    for (size_t i = 0; i < words.size(); ++i) {
        std::string hex;
        if (!(f >> hex)) {
            std::printf("vectors: truncated '%s' block\n", kind);
            return false;
        }
        words[i] = std::strtoull(hex.c_str(), nullptr, 16);
    }
    return true;
}

bool read_vectors(const char* path, std::vector<Call>& calls) {
    std::ifstream f(path);
    if (!f) {
        std::printf("cannot open vectors file %s\n", path);
        return false;
    }
    std::string tag, value;
    if (!(f >> tag >> value) || tag != "zynqyolo-vectors" || value != "1") {
        std::printf("%s: not a zynqyolo vectors file (version 1)\n", path);
        return false;
    }
    if (!(f >> tag >> value) || tag != "design" || value != ZYNQYOLO_HW_HASH) {
        std::printf("%s: vectors are for design %s, this build is %s\n", path, value.c_str(), ZYNQYOLO_HW_HASH);
        return false;
    }
    while (f >> tag) {
        if (tag != "call") {
            std::printf("%s: expected 'call <name>', got '%s'\n", path, tag.c_str());
            return false;
        }
        Call c;
        f >> c.name;
        c.regs.assign(zy::REGISTER_FIELD_COUNT, 0);
        std::vector<bool> seen(zy::REGISTER_FIELD_COUNT, false);
        while (f >> tag && tag == "reg") {
            std::string name;
            long long v = 0;
            f >> name >> v;
            int k = 0;
            while (k < zy::REGISTER_FIELD_COUNT && name != kRegisterNames[k]) ++k;
            if (k == zy::REGISTER_FIELD_COUNT) {
                std::printf("%s: call %s: unknown register %s\n", path, c.name.c_str(), name.c_str());
                return false;
            }
            c.regs[k] = v;
            seen[k] = true;
        }
        for (int k = 0; k < zy::REGISTER_FIELD_COUNT; ++k) {
            if (!seen[k]) {
                std::printf("%s: call %s: register %s missing\n", path, c.name.c_str(), kRegisterNames[k]);
                return false;
            }
        }
        if (tag != "words") {
            std::printf("%s: call %s: expected 'words'\n", path, c.name.c_str());
            return false;
        }
        if (!read_words(f, "in", c.in) || !read_words(f, "wts", c.wts) || !read_words(f, "out", c.out)) return false;
        calls.push_back(c);
    }
    return !calls.empty();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::printf("usage: %s VECTORS (csim_design/cosim_design -argv pass it; see run_hls.tcl)\n", argv[0]);
        return 2;
    }
    std::vector<Call> calls;
    if (!read_vectors(argv[1], calls)) return 2;
    int failed = 0;
    for (const Call& c : calls) {
        const int errors = run_call(&yolo_accel, c);
        std::printf("%s %s (%zu in, %zu wts, %zu out words)\n", errors ? "FAIL" : "PASS", c.name.c_str(),
                    c.in.size() / kChunks, c.wts.size() / kChunks, c.out.size() / kChunks);
        failed += errors != 0;
    }
    std::printf("%d of %zu calls failed\n", failed, calls.size());
    return failed ? 1 : 0;
}
