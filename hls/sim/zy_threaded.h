// zy_threaded.h: the threaded C simulation of a DATAFLOW region (simulation only, never synthesised;
// hls/sim is never copied into an HLS project).
//
// Design note
// - As the hardware runs a DATAFLOW region (and as hlslib's threaded simulation does): every
//   process on its own thread, the channels between them bounded FIFOs of their declared depth. A
//   read of an empty FIFO waits for the writer, a write to a full one waits for the reader, so a
//   depth too shallow for the schedule the processes actually follow deadlocks here as it would on
//   the board, instead of passing as it does over the unbounded hls::stream of the sequential
//   C simulation.
// - zy::sim::fifo<T> is what zy::chan<T> means under ZYNQYOLO_THREADED_CSIM (zy_common.h): the
//   hls::stream methods the kernels use (read, write, empty, full, size), a name given to the
//   constructor and a depth set where the channel is declared (set_depth, the STREAM pragma's
//   value; hls::stream's default of 2 otherwise). One mutex and two condition variables each.
// - zy::sim::dataflow runs the processes: process(name, fn) starts fn on a thread with a large
//   stack (ZY_SIM_STACK_BYTES: the kernels keep their buffers on the stack, as HLS locals), join()
//   watches them and joins them. It reports a deadlock when every live process waits and each
//   wait is confirmed under its channel's lock (a FIFO still empty for its reader or still full
//   for its writer, no wait left in between): then no process can ever move. As a backstop it
//   reports a stall when no process completed a channel operation for ZY_SIM_STALL_MS while some
//   wait. Either way it records a message naming each waiting process, its stream, the stream's
//   depth and whether it was full or empty, then releases every wait (reads of an empty FIFO
//   return T(), writes go through unbounded) so the threads run to their ends; their results are
//   meaningless and the caller must discard them (the csim bridge returns an error).
// - An external stream of the region (an hls::stream the caller fills before the call, the top's
//   `in` and `wts`) never gains data during the call: wait_external() is a wait that only a
//   deadlock report ends (zy::checked_read uses it).
// - One region at a time per process (the csim bridge runs one call at a time).
// What breaks if this is wrong: a FIFO that did not block on full would hide exactly the shallow
//   depths this flavour exists to find; a deadlock check that trusted a stale wait record would
//   report a deadlock in a correct design (hence the confirmation under the channel lock).
#ifndef ZY_THREADED_H
#define ZY_THREADED_H

#ifdef __SYNTHESIS__
#error "zy_threaded.h is the threaded C simulation only; synthesis uses hls::stream"
#endif

#include <hls_stream.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#ifndef ZY_SIM_STALL_MS
#define ZY_SIM_STALL_MS 10000  // no channel operation for this long while a process waits: a stall
#endif
#ifndef ZY_SIM_POLL_MS
#define ZY_SIM_POLL_MS 2  // how often join() looks for a deadlock
#endif
#ifndef ZY_SIM_YIELDS
#define ZY_SIM_YIELDS 8  // a waiter yields its core this often before it sleeps on the condition variable
#endif
#ifndef ZY_SIM_STACK_BYTES
#define ZY_SIM_STACK_BYTES (std::size_t(256) << 20)  // per process thread (address space, not memory)
#endif

namespace zy {
namespace sim {

class channel;
class dataflow;

// What one process is doing, as the watchdog sees it (written under the region's lock, except the
// operation count, which only its own thread writes).
struct process_slot {
    std::string name;
    bool live = true;
    bool waiting = false;
    bool writing = false;          // waiting for room (full) rather than data (empty)
    channel* on = nullptr;         // the FIFO waited on, or null for an external stream
    std::string external;          // the external stream's name
    unsigned long long waits = 0;  // number of waits entered: a changed count is a wait left
    std::atomic<unsigned long long> ops{0};  // channel operations completed
};

struct thread_context {
    dataflow* region = nullptr;
    process_slot* slot = nullptr;
};

inline thread_context& current() {
    static thread_local thread_context context;
    return context;
}

// The outcome of the last region (or of a wait outside any region), for the csim bridge.
struct report_state {
    std::mutex m;
    std::string message;
};

inline report_state& report() {
    static report_state state;
    return state;
}

inline void clear_report() {
    std::lock_guard<std::mutex> lk(report().m);
    report().message.clear();
}

inline std::string last_report() {
    std::lock_guard<std::mutex> lk(report().m);
    return report().message;
}

inline void set_report(const std::string& message) {
    std::lock_guard<std::mutex> lk(report().m);
    if (report().message.empty()) report().message = message;
}

// The part of a FIFO the watchdog needs, independent of the item type.
class channel {
  public:
    explicit channel(const std::string& name) : name_(name) {}
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    virtual ~channel() {}

    const std::string& name() const { return name_; }
    int depth() const { return depth_; }
    void set_depth(int depth) { depth_ = depth < 1 ? 1 : depth; }  // a FIFO holds at least one item

    bool empty() {
        std::lock_guard<std::mutex> lk(m_);
        return count_ == 0;
    }
    bool full() {
        std::lock_guard<std::mutex> lk(m_);
        return count_ >= (std::size_t)depth_;
    }
    std::size_t size() {
        std::lock_guard<std::mutex> lk(m_);
        return count_;
    }

    // Under the lock: does the wait of a writer (writing) or reader still have to wait?
    bool still_blocks(bool writing) {
        std::lock_guard<std::mutex> lk(m_);
        return writing ? count_ >= (std::size_t)depth_ : count_ == 0;
    }

    // After a deadlock report: wake every waiter so it sees the region aborted.
    void wake_all() {
        std::lock_guard<std::mutex> lk(m_);
        not_empty_.notify_all();
        not_full_.notify_all();
    }

  protected:
    // Before a wait sleeps, yield the core a few times with the lock released: the other side of
    // a shallow FIFO usually moves within a time slice, and a sleep and wake-up per item (two
    // system calls and two context switches) would dominate the simulation time.
    template <class Ready>
    bool yield_until(std::unique_lock<std::mutex>& lk, Ready ready) {
        for (int i = 0; i < ZY_SIM_YIELDS; i++) {
            lk.unlock();
            sched_yield();
            lk.lock();
            if (ready()) return true;
        }
        return false;
    }

    std::mutex m_;
    std::condition_variable not_empty_, not_full_;
    std::size_t count_ = 0;  // items held
    int depth_ = 2;          // hls::stream's default depth

  private:
    std::string name_;
};

// A DATAFLOW region: the processes' threads and the watchdog that joins them.
class dataflow {
  public:
    dataflow() { clear_report(); }
    dataflow(const dataflow&) = delete;
    dataflow& operator=(const dataflow&) = delete;
    ~dataflow() { join(); }

    // Start fn as the process `name`. Call before join(); the channels fn uses must outlive join().
    void process(const std::string& name, std::function<void()> fn) {
        std::unique_ptr<process_slot> slot(new process_slot);
        slot->name = name;
        std::unique_ptr<start_args> args(new start_args{this, slot.get(), std::move(fn)});
        {
            std::lock_guard<std::mutex> lk(m_);
            slots_.push_back(std::move(slot));
            live_++;
        }
        pthread_attr_t attr;
        pthread_t thread;
        bool started = pthread_attr_init(&attr) == 0;
        if (started) {
            pthread_attr_setstacksize(&attr, ZY_SIM_STACK_BYTES);
            started = pthread_create(&thread, &attr, &dataflow::entry, args.get()) == 0;
            pthread_attr_destroy(&attr);
        }
        if (started) {
            args.release();
            threads_.push_back(thread);
            return;
        }
        std::unique_lock<std::mutex> lk(m_);
        slots_.back()->live = false;
        live_--;
        abort_locked(lk, "could not start a thread for process " + name);
    }

    // Watch the processes until all have finished (a deadlock or a stall releases them), join
    // them. Returns the report: empty when the region ran through.
    std::string join() {
        if (joined_) return message_;
        {
            std::unique_lock<std::mutex> lk(m_);
            unsigned long long last_ops = ops_locked();
            std::chrono::steady_clock::time_point last_change = std::chrono::steady_clock::now();
            while (live_ > 0) {
                finished_.wait_for(lk, std::chrono::milliseconds(ZY_SIM_POLL_MS));
                if (live_ == 0 || aborted_) continue;
                if (deadlocked(lk)) {
                    abort_locked(lk, "deadlock: " + waits_locked());
                    continue;
                }
                const unsigned long long ops = ops_locked();
                const std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
                if (ops != last_ops || !any_waiting_locked()) {
                    last_ops = ops;
                    last_change = now;
                } else if (now - last_change > std::chrono::milliseconds(ZY_SIM_STALL_MS)) {
                    abort_locked(lk, "stall: no channel operation for " + std::to_string(ZY_SIM_STALL_MS) +
                                         " ms; " + waits_locked() + running_locked());
                }
            }
        }
        for (pthread_t t : threads_) pthread_join(t, nullptr);
        threads_.clear();
        joined_ = true;
        if (!message_.empty()) set_report(message_);
        return message_;
    }

    bool aborted() const { return aborted_.load(std::memory_order_acquire); }

    // Called by a channel with its own lock held (lock order: channel, then region).
    void enter_wait(process_slot* me, channel* on, bool writing) {
        std::lock_guard<std::mutex> lk(m_);
        me->waiting = true;
        me->writing = writing;
        me->on = on;
        me->waits++;
    }

    void leave_wait(process_slot* me) {
        std::lock_guard<std::mutex> lk(m_);
        me->waiting = false;
        me->on = nullptr;
    }

    // A read of an external stream that is empty: nothing will refill it during the region.
    void wait_external(process_slot* me, const std::string& stream) {
        std::unique_lock<std::mutex> lk(m_);
        me->waiting = true;
        me->writing = false;
        me->on = nullptr;
        me->external = stream;
        me->waits++;
        released_.wait(lk, [this] { return aborted(); });
        me->waiting = false;
    }

  private:
    struct start_args {
        dataflow* region;
        process_slot* slot;
        std::function<void()> fn;
    };

    static void* entry(void* p) {
        std::unique_ptr<start_args> a(static_cast<start_args*>(p));
        current().region = a->region;
        current().slot = a->slot;
        std::string failure;
        try {
            a->fn();
        } catch (const std::exception& e) {
            failure = std::string("process ") + a->slot->name + " threw: " + e.what();
        } catch (...) {
            failure = std::string("process ") + a->slot->name + " threw an exception";
        }
        current() = thread_context();
        std::unique_lock<std::mutex> lk(a->region->m_);
        a->slot->live = false;
        a->region->live_--;
        if (!failure.empty()) a->region->abort_locked(lk, failure);
        a->region->finished_.notify_all();
        return nullptr;
    }

    unsigned long long ops_locked() const {
        unsigned long long n = 0;
        for (const auto& s : slots_) n += s->ops.load(std::memory_order_relaxed);
        return n;
    }

    bool any_waiting_locked() const {
        for (const auto& s : slots_)
            if (s->live && s->waiting) return true;
        return false;
    }

    // Every live process waits, and each wait still holds under its channel's lock while no
    // process left its wait in the meantime. Takes and gives back the region lock.
    bool deadlocked(std::unique_lock<std::mutex>& lk) {
        struct seen {
            process_slot* slot;
            channel* on;
            bool writing;
            unsigned long long waits;
        };
        std::vector<seen> snapshot;
        for (const auto& s : slots_) {
            if (!s->live) continue;
            if (!s->waiting) return false;
            snapshot.push_back(seen{s.get(), s->on, s->writing, s->waits});
        }
        if (snapshot.empty()) return false;
        lk.unlock();  // channel locks are never taken under the region lock
        bool holds = true;
        for (const seen& w : snapshot)
            if (w.on != nullptr && !w.on->still_blocks(w.writing)) holds = false;
        lk.lock();
        if (!holds) return false;
        for (const seen& w : snapshot)
            if (!w.slot->live || !w.slot->waiting || w.slot->waits != w.waits) return false;
        return true;
    }

    // "stream 'X' (depth D) full, writer P blocked; ..." for every waiting process: external
    // streams first (a call input that ran dry), then full FIFOs (a FIFO too shallow shows as
    // full), then empty ones.
    std::string waits_locked() const {
        std::vector<std::string> full, empty, external;
        for (const auto& s : slots_) {
            if (!s->live || !s->waiting) continue;
            std::ostringstream os;
            if (s->on == nullptr) {
                os << "stream '" << s->external << "' (a call input, no more words) empty, reader " << s->name
                   << " blocked";
                external.push_back(os.str());
            } else {
                os << "stream '" << s->on->name() << "' (depth " << s->on->depth() << ") "
                   << (s->writing ? "full, writer " : "empty, reader ") << s->name << " blocked";
                (s->writing ? full : empty).push_back(os.str());
            }
        }
        std::string text;
        for (const std::vector<std::string>* group : {&external, &full, &empty})
            for (const std::string& line : *group) text += (text.empty() ? "" : "; ") + line;
        std::string done;
        for (const auto& s : slots_)
            if (!s->live) done += (done.empty() ? "" : ", ") + s->name;
        if (!done.empty()) text += "; finished: " + done;
        return text;
    }

    std::string running_locked() const {
        std::string names;
        for (const auto& s : slots_)
            if (s->live && !s->waiting) names += (names.empty() ? "" : ", ") + s->name;
        return names.empty() ? std::string() : "; running: " + names;
    }

    // Record the message, release every wait. Takes and gives back the region lock.
    void abort_locked(std::unique_lock<std::mutex>& lk, const std::string& message) {
        if (aborted_) return;
        message_ = message;
        aborted_.store(true, std::memory_order_release);
        released_.notify_all();
        std::vector<channel*> waited;
        for (const auto& s : slots_)
            if (s->waiting && s->on != nullptr) waited.push_back(s->on);
        lk.unlock();
        // A process that starts waiting after this point sees aborted() in its wait's predicate.
        for (channel* c : waited) c->wake_all();
        lk.lock();
    }

    std::mutex m_;
    std::condition_variable finished_;  // a process ended
    std::condition_variable released_;  // the region was aborted (external waits)
    std::vector<std::unique_ptr<process_slot> > slots_;
    std::vector<pthread_t> threads_;
    int live_ = 0;
    std::atomic<bool> aborted_{false};
    std::string message_;
    bool joined_ = false;
};

// A wait outside any region can never end (no other thread is running): report it at once.
inline void outside_region(const std::string& stream, bool writing) {
    set_report("deadlock: stream '" + stream + "' " + (writing ? "full" : "empty") +
               " outside a dataflow region (no other process could " + (writing ? "drain" : "fill") + " it)");
}

// A bounded FIFO between two processes of a region (one writer, one reader).
template <class T>
class fifo : public channel {
  public:
    explicit fifo(const std::string& name) : channel(name) {}
    explicit fifo(const char* name) : channel(name) {}
    fifo(const std::string& name, int depth) : channel(name) { set_depth(depth); }

    T read() {
        thread_context& ctx = current();
        std::unique_lock<std::mutex> lk(m_);
        auto ready = [this] { return count_ > 0; };
        if (!ready() && !yield_until(lk, ready)) {
            if (ctx.region == nullptr) {
                lk.unlock();
                outside_region(name(), false);
                return T();
            }
            dataflow* region = ctx.region;
            region->enter_wait(ctx.slot, this, false);
            not_empty_.wait(lk, [&] { return ready() || region->aborted(); });
            region->leave_wait(ctx.slot);
            if (!ready()) return T();  // released by a deadlock report
        }
        T v = items_.front();
        items_.pop_front();
        count_--;
        done(ctx);
        not_full_.notify_one();
        return v;
    }

    void read(T& v) { v = read(); }

    void write(const T& v) {
        thread_context& ctx = current();
        std::unique_lock<std::mutex> lk(m_);
        auto room = [this] { return count_ < (std::size_t)depth_; };
        if (!room() && !yield_until(lk, room)) {
            if (ctx.region == nullptr) {
                outside_region(name(), true);  // the item is kept: the caller's results are void anyway
            } else {
                dataflow* region = ctx.region;
                region->enter_wait(ctx.slot, this, true);
                not_full_.wait(lk, [&] { return room() || region->aborted(); });
                region->leave_wait(ctx.slot);  // released by a deadlock report: the item goes in regardless
            }
        }
        items_.push_back(v);
        count_++;
        done(ctx);
        not_empty_.notify_one();
    }

  private:
    static void done(thread_context& ctx) {
        if (ctx.slot != nullptr) ctx.slot->ops.store(ctx.slot->ops.load(std::memory_order_relaxed) + 1,
                                                     std::memory_order_relaxed);
    }

    std::deque<T> items_;
};

// The name an hls::stream was given (its constructor argument); hls::stream keeps it protected.
template <class T>
struct stream_name : hls::stream<T> {
    static const std::string& of(hls::stream<T>& s) { return s.*(&stream_name::_name); }
};

// A read of an external hls::stream that is empty: in a region, a wait that only a deadlock
// report ends (the stream is filled before the region and never again); outside one, a report.
template <class T>
void wait_external(hls::stream<T>& s) {
    thread_context& ctx = current();
    if (ctx.region == nullptr) {
        outside_region(stream_name<T>::of(s), false);
        return;
    }
    ctx.region->wait_external(ctx.slot, stream_name<T>::of(s));
}

// A completed read of an external stream counts as progress of its process.
inline void external_op() {
    thread_context& ctx = current();
    if (ctx.slot != nullptr) ctx.slot->ops.store(ctx.slot->ops.load(std::memory_order_relaxed) + 1,
                                                 std::memory_order_relaxed);
}

}  // namespace sim
}  // namespace zy

#endif  // ZY_THREADED_H
