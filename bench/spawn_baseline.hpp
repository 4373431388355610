#pragma once

#include <cstddef>
#include <cstdint>

namespace agentreg::bench {

/// What raw_spawns measured.
struct spawn_timing {
  double spawn_seconds = 0;    ///< spawning the actors, one after the other, from one thread
  double destroy_seconds = 0;  ///< letting their handles go until every actor is done
};

/// Spawns `n` actors of the agent behaviour (actors::spawn_agent, exactly as
/// a registration spawns one, all on one shared record) into an actor system
/// configured as the registry's (`scheduler_threads`, work sharing), then
/// lets them go: the baseline a registration is measured against, since a
/// registration cannot cost less than the spawn it makes.
spawn_timing raw_spawns(std::uint32_t n, std::size_t scheduler_threads);

}  // namespace agentreg::bench
