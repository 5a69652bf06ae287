#include "engine/campaign/campaign.hpp"
#include "engine/campaign/threads.hpp"
#include "engine/simulation/simulate.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

namespace plateau {

namespace {

/// A bounded multi-producer, single-consumer queue. (A plain mutex and condition variables
/// rather than oneTBB's concurrent_bounded_queue: the thread sanitizer sees this
/// synchronization, and the throughput needed, one item per finished run, is tiny.)
template <class T>
class BoundedQueue {
public:
    explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

    void push(T item) {
        std::unique_lock lock(mutex_);
        not_full_.wait(lock, [&] { return items_.size() < capacity_; });
        items_.push_back(std::move(item));
        not_empty_.notify_one();
    }

    [[nodiscard]] T pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return !items_.empty(); });
        return take();
    }

    /// Pops into `item` if one comes within `timeout`; returns false otherwise.
    [[nodiscard]] bool pop_for(T& item, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        if (!not_empty_.wait_for(lock, timeout, [&] { return !items_.empty(); }))
            return false;
        item = take();
        return true;
    }

private:
    T take() {
        T item = std::move(items_.front());
        items_.pop_front();
        not_full_.notify_all();
        return item;
    }

    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable not_full_;
    std::condition_variable not_empty_;
    std::deque<T> items_;
};

} // namespace

RunFunction simulation_runs(const CampaignSpec& spec, StepCounter* steps_done) {
    return [&spec, steps_done](std::int64_t run) {
        const StartWeights* start = nullptr;
        if (spec.start_weights)
            if (const auto it = spec.start_weights->find(run); it != spec.start_weights->end())
                start = &it->second;
        return simulate(spec.point_of(run).params, spec.master_seed,
                        static_cast<std::uint64_t>(run), spec.init_index_of(run), steps_done,
                        spec.save_weights, start);
    };
}

void execute_campaign(const CampaignSpec& spec, const std::vector<std::int64_t>& run_indices,
                      const std::function<void(FinishedRun&&)>& consume) {
    execute_campaign(spec, run_indices, simulation_runs(spec), consume);
}

namespace {

/// What the workers of one campaign share.
struct CampaignShared {
    CampaignShared(const std::vector<std::int64_t>& runs, const RunFunction& run,
                   BoundedQueue<std::optional<FinishedRun>>& q)
        : run_indices(runs), run_one(run), queue(q) {}

    const std::vector<std::int64_t>& run_indices;
    const RunFunction& run_one;
    BoundedQueue<std::optional<FinishedRun>>& queue;
    std::atomic<bool> stop{false};
    std::mutex error_mutex;
    std::exception_ptr worker_error;
};

/// Computes runs run_indices[begin, end) and queues them for the consumer.
[[gnu::noinline]] void run_slice(CampaignShared& shared, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i != end; ++i) {
        if (shared.stop.load(std::memory_order_relaxed))
            return;
        const std::int64_t run = shared.run_indices[i];
        try {
            FinishedRun done{run, shared.run_one(run)};
            shared.queue.push(std::optional<FinishedRun>(std::move(done)));
        } catch (...) {
            const std::lock_guard lock(shared.error_mutex);
            if (!shared.worker_error)
                shared.worker_error = std::current_exception();
            shared.stop = true;
        }
    }
}

/// The body oneTBB copies into its tasks; it only forwards to run_slice. It has a name of its
/// own so that the thread-sanitizer suppression of oneTBB's (uninstrumented) task hand-off can
/// name exactly this frame (tests/tsan.supp); everything run_slice does is still checked.
struct SliceBody {
    CampaignShared* shared;
    void operator()(const oneapi::tbb::blocked_range<std::size_t>& range) const {
        run_slice(*shared, range.begin(), range.end());
    }
};

} // namespace

void execute_campaign(const CampaignSpec& spec, const std::vector<std::int64_t>& run_indices,
                      const RunFunction& run_one, const std::function<void(FinishedRun&&)>& consume,
                      const Heartbeat& heartbeat) {
    const int threads = worker_count(spec.threads);
    // The one place that owns the workers of a campaign. More threads than cores are allowed
    // (the user asked for them; results never depend on the count): raising oneTBB's global
    // limit for the campaign's lifetime keeps it from printing a warning and ignoring them.
    const oneapi::tbb::global_control allow(
        oneapi::tbb::global_control::max_allowed_parallelism,
        static_cast<std::size_t>(std::max(threads, oneapi::tbb::info::default_concurrency())));
    oneapi::tbb::task_arena arena(threads);

    // Finished runs wait here for the consumer; an empty optional says the workers are done.
    BoundedQueue<std::optional<FinishedRun>> queue(2 * static_cast<std::size_t>(threads));
    CampaignShared shared(run_indices, run_one, queue);

    // A worker the system refuses (threads.hpp) is WorkerStartError here: on this thread, or on
    // the producer, where oneTBB wakes the first workers. (oneTBB's workers wake the others; a
    // refusal there reaches std::terminate, which the program turns into the same error.)
    const auto producer_body = [&] {
        try {
            arena.execute([&] {
                oneapi::tbb::parallel_for(
                    oneapi::tbb::blocked_range<std::size_t>(0, run_indices.size(), 1),
                    SliceBody{&shared}, oneapi::tbb::simple_partitioner());
            });
        } catch (const std::exception& e) {
            // Not a run's error (run_slice keeps those): oneTBB's own, most likely a refused
            // worker. The runs finished so far still reach the consumer.
            const std::lock_guard lock(shared.error_mutex);
            if (!shared.worker_error)
                shared.worker_error = is_worker_start_failure(e)
                                          ? std::make_exception_ptr(WorkerStartError(e.what()))
                                          : std::current_exception();
            shared.stop = true;
        }
        queue.push(std::nullopt);
    };
    std::optional<std::thread> producer;
    try {
        producer.emplace(producer_body);
    } catch (const std::system_error& e) {
        throw WorkerStartError("pthread_create has failed: " + std::string(e.what()));
    }

    std::exception_ptr consumer_error;
    std::exception_ptr heartbeat_error;
    const bool beating = heartbeat.beat && heartbeat.interval.count() > 0;
    auto last_beat = std::chrono::steady_clock::now();
    for (;;) {
        std::optional<FinishedRun> item;
        bool popped = true; // false: the heartbeat's interval passed without a finished run
        if (beating && !heartbeat_error)
            popped = queue.pop_for(item, heartbeat.interval);
        else
            item = queue.pop();
        if (popped && !item)
            break;
        if (consumer_error)
            continue; // drain, so that blocked workers can finish
        try {
            if (popped)
                consume(std::move(*item));
        } catch (...) {
            consumer_error = std::current_exception();
            shared.stop = true;
            continue;
        }
        // At least every interval, runs finishing or not; after a heartbeat's exception the
        // runs in flight are still consumed (an interruption keeps what was computed).
        if (!beating || heartbeat_error)
            continue;
        const auto now = std::chrono::steady_clock::now();
        if (popped && now - last_beat < heartbeat.interval)
            continue;
        last_beat = now;
        try {
            heartbeat.beat();
        } catch (...) {
            heartbeat_error = std::current_exception();
            shared.stop = true;
        }
    }
    producer->join();
    if (consumer_error)
        std::rethrow_exception(consumer_error);
    if (heartbeat_error)
        std::rethrow_exception(heartbeat_error);
    if (shared.worker_error)
        std::rethrow_exception(shared.worker_error);
}

} // namespace plateau
