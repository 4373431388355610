#pragma once

#include <caf/fwd.hpp>

#include <cstdint>

// The engine's CAF scheduler: CAF's own coordinator (work sharing or
// stealing) with one change to its clock, for teardown at scale.
//
// Every actor CAF destroys asks the clock thread to cancel its timeouts
// (local_actor::cleanup calls actor_clock::cancel_timeouts), through a
// 64-slot ring buffer and a condition variable: one event allocated, and
// nearly always one wake-up of the clock thread, per actor. The agents'
// actors never set a timeout, yet in a perf profile of destroying a registry
// of 1 M agents those wake-ups (pthread_cond_broadcast, futex waits) held
// about 45 % of the samples. The clock here passes every call on to
// CAF's, except that it remembers which actors ever set a timeout (a receive,
// multi or request timeout) and asks the clock thread to cancel only theirs.
namespace agentreg::actors {

enum class scheduling { sharing, stealing };

/// Loads the engine's scheduler into `cfg`. CAF then ignores
/// "scheduler.policy" (`policy` chooses) and "scheduler.enable-profiling"
/// (no profiled coordinator); "scheduler.max-threads" and
/// "scheduler.max-throughput" still apply.
void use_engine_scheduler(caf::actor_system_config& cfg, scheduling policy);

/// What the engine's clock did since the system started (tests).
/// `installed` is false, and the rest zero, when the system does not run
/// the engine's scheduler.
struct clock_counters {
  bool installed = false;
  std::uint64_t timed_actors = 0;           ///< actors alive that set a timeout
  std::uint64_t cancellations_passed = 0;   ///< cleanups passed on to CAF's clock
  std::uint64_t cancellations_skipped = 0;  ///< cleanups of actors that set none
};
clock_counters engine_clock_counters(caf::actor_system& sys);

}  // namespace agentreg::actors
