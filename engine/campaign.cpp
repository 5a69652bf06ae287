#include "engine/campaign.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace plateau {

RunFunction simulation_runs(const CampaignSpec& spec) {
    return [&spec](std::int64_t run) {
        return simulate(spec.point_of(run).params, spec.master_seed,
                        static_cast<std::uint64_t>(run));
    };
}

void execute_campaign(const CampaignSpec& spec, const std::vector<std::int64_t>& run_indices,
                      const std::function<void(FinishedRun&&)>& consume) {
    execute_campaign(spec, run_indices, simulation_runs(spec), consume);
}

void execute_campaign(const CampaignSpec& spec, const std::vector<std::int64_t>& run_indices,
                      const RunFunction& run_one,
                      const std::function<void(FinishedRun&&)>& consume) {
    const int threads = spec.threads > 0 ? spec.threads : oneapi::tbb::info::default_concurrency();
    // The one place that owns the workers of a campaign.
    oneapi::tbb::task_arena arena(threads);

    // Finished runs wait here for the consumer; an empty optional says the workers are done.
    oneapi::tbb::concurrent_bounded_queue<std::optional<FinishedRun>> queue;
    queue.set_capacity(2 * threads);
    std::atomic<bool> stop{false};
    std::exception_ptr worker_error;
    std::mutex error_mutex;

    std::thread producer([&] {
        arena.execute([&] {
            oneapi::tbb::parallel_for(
                oneapi::tbb::blocked_range<std::size_t>(0, run_indices.size(), 1),
                [&](const oneapi::tbb::blocked_range<std::size_t>& range) {
                    for (std::size_t i = range.begin(); i != range.end(); ++i) {
                        if (stop.load(std::memory_order_relaxed))
                            return;
                        const std::int64_t run = run_indices[i];
                        try {
                            FinishedRun done{run, run_one(run)};
                            queue.push(std::optional<FinishedRun>(std::move(done)));
                        } catch (...) {
                            const std::lock_guard lock(error_mutex);
                            if (!worker_error)
                                worker_error = std::current_exception();
                            stop = true;
                        }
                    }
                },
                oneapi::tbb::simple_partitioner());
        });
        queue.push(std::nullopt);
    });

    std::exception_ptr consumer_error;
    for (;;) {
        std::optional<FinishedRun> item;
        queue.pop(item);
        if (!item)
            break;
        if (consumer_error)
            continue; // drain, so that blocked workers can finish
        try {
            consume(std::move(*item));
        } catch (...) {
            consumer_error = std::current_exception();
            stop = true;
        }
    }
    producer.join();
    if (consumer_error)
        std::rethrow_exception(consumer_error);
    if (worker_error)
        std::rethrow_exception(worker_error);
}

} // namespace plateau
