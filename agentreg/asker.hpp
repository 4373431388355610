#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace agentreg {

/// Spawns an asker: an actor that runs msg::ask_job messages, so that a
/// thread which must not wait (an HTTP I/O thread) can ask the engine's
/// actors with request/then and get the answer in a callback. At most
/// `max_in_flight` jobs wait for answers at once; later ones queue in the
/// asker (CAF 0.17 searches an actor's pending responses linearly, so an
/// unbounded number in flight would cost quadratic time). Jobs start in the
/// order they were sent. Answers `sync_atom` (with `ok_atom`) when no job is
/// in flight or waiting (the registry's destructor asks once callers have
/// stopped). Callable from any thread.
caf::actor spawn_asker(caf::actor_system& system, std::size_t max_in_flight);

}  // namespace agentreg
