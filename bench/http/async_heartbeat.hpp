#pragma once
// The in-process part of `agentreg-bench http`: heartbeats through the
// facade's asynchronous form (registry::heartbeat_async, answered by the
// agent's actor through a completion), the form agentregd's I/O threads use,
// and through registry::heartbeat_many (POST /v1/heartbeats' form), beside
// the blocking registry::heartbeat, each from 2 threads.

#include "bench/suite.hpp"

namespace agentreg::bench {

struct heartbeat_rates {
  summary async_per_s;     ///< answered heartbeat_async calls per second
  summary batch_per_s;     ///< answered heartbeat_many items per second (batches of 1 000)
  summary blocking_per_s;  ///< blocking heartbeat calls per second
  std::uint64_t failures = 0;
};

/// `rounds` rounds of `length` each (the blocking one: 1 s) over 1 000
/// agents of a memory-only registry.
heartbeat_rates measure_heartbeats(int rounds, std::chrono::seconds length);

}  // namespace agentreg::bench
