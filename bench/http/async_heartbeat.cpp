#include "bench/http/async_heartbeat.hpp"

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"

namespace agentreg::bench {

namespace {

// Each thread keeps up to `window` heartbeats waiting for their answer; the
// rate counts answers, so heartbeats merely queued are not counted.
round_result async_round(registry& reg, const std::vector<std::string>& ids, std::chrono::seconds length,
                         std::atomic<std::uint64_t>& failures) {
  constexpr std::int64_t window = 4096;
  return run_round(2, length, [&](unsigned t, const std::atomic<bool>& stop) {
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::uint64_t> answered{0};
    std::size_t next = t * ids.size() / 2;
    // relaxed loads of `stop`: a plain flag, nothing published through it.
    while (!stop.load(std::memory_order_relaxed)) {
      // acquire: pairs with the completions' release decrement, so this
      // frame outlives every completion that touches it (see the end).
      if (in_flight.load(std::memory_order_acquire) >= window) {
        std::this_thread::yield();
        continue;
      }
      in_flight.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count
      reg.heartbeat_async(ids[next++ % ids.size()], std::nullopt, [&](expected<agent> a) {
        if (!a)
          failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after the rounds
        answered.fetch_add(1, std::memory_order_relaxed);    // relaxed: read after the wait below
        in_flight.fetch_sub(1, std::memory_order_release);   // release: pairs with the acquire loads
      });
    }
    while (in_flight.load(std::memory_order_acquire) > 0)
      std::this_thread::yield();
    return thread_tally{answered.load(std::memory_order_relaxed), 0};
  });
}

// heartbeat_many in batches of `batch` items (POST /v1/heartbeats' most),
// each thread keeping up to `window` batches waiting, so about as many
// heartbeats are in flight as in async_round; the rate counts answered items.
round_result batch_round(registry& reg, const std::vector<std::string>& ids, std::chrono::seconds length,
                         std::atomic<std::uint64_t>& failures) {
  constexpr std::size_t batch = 1000;
  constexpr std::int64_t window = 4;
  return run_round(2, length, [&](unsigned t, const std::atomic<bool>& stop) {
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::uint64_t> answered{0};
    std::size_t next = t * ids.size() / 2;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a plain flag
      // acquire: pairs with the completions' release decrement (as above).
      if (in_flight.load(std::memory_order_acquire) >= window) {
        std::this_thread::yield();
        continue;
      }
      std::vector<heartbeat_item> items;
      items.reserve(batch);
      for (std::size_t i = 0; i < batch; ++i)
        items.push_back({ids[next++ % ids.size()], std::nullopt});
      in_flight.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count
      reg.heartbeat_many(std::move(items), [&](expected<std::vector<expected<heartbeat_ack>>> results) {
        std::uint64_t failed = 0;
        for (const auto& r : *results)
          failed += r ? 0 : 1;
        failures.fetch_add(failed, std::memory_order_relaxed);         // relaxed: read after the rounds
        answered.fetch_add(results->size(), std::memory_order_relaxed);  // relaxed: read after the wait below
        in_flight.fetch_sub(1, std::memory_order_release);               // release: pairs with the acquire loads
      });
    }
    while (in_flight.load(std::memory_order_acquire) > 0)
      std::this_thread::yield();
    return thread_tally{answered.load(std::memory_order_relaxed), 0};
  });
}

round_result blocking_round(registry& reg, const std::vector<std::string>& ids, std::atomic<std::uint64_t>& failures) {
  return run_round(2, std::chrono::seconds{1}, [&](unsigned t, const std::atomic<bool>& stop) {
    thread_tally tally;
    std::size_t next = t * ids.size() / 2;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a plain flag
      if (!reg.heartbeat(ids[next++ % ids.size()]))
        failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after the rounds
      ++tally.ops;
    }
    return tally;
  });
}

}  // namespace

heartbeat_rates measure_heartbeats(int rounds, std::chrono::seconds length) {
  registry reg{config{}};
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.push_back("inproc-" + std::to_string(i));
    if (!reg.register_agent({.agent_id = ids.back(), .agent_type = "bench", .max_capacity = 10}))
      throw std::runtime_error("register_agent failed");
  }
  std::atomic<std::uint64_t> failures{0};
  std::vector<double> async_rate, batch_rate, blocking_rate;
  for (int r = 0; r < rounds; ++r) {
    async_rate.push_back(async_round(reg, ids, length, failures).ops_per_s());
    batch_rate.push_back(batch_round(reg, ids, length, failures).ops_per_s());
    blocking_rate.push_back(blocking_round(reg, ids, failures).ops_per_s());
  }
  return {summarize(async_rate), summarize(batch_rate), summarize(blocking_rate),
          failures.load(std::memory_order_relaxed)};
}

}  // namespace agentreg::bench
