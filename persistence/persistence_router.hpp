#pragma once

#include <cstddef>
#include <memory>

#include <caf/fwd.hpp>

#include "core/backlog_gate.hpp"
#include "messages/persistence.hpp"
#include "persistence/persistence_writer.hpp"

namespace agentreg::db {

/// Spawns the engine's persistence: `connections` write-behind writers (see
/// spawn_persistence_writer; each detached, owning one connection) behind
/// one handle with the writer's protocol, so PostgreSQL can work on two
/// batches at once. The router itself does no I/O:
///  - executions and tool calls are spread over the writers by a hash of
///    their id, so an execution's start and its completion always meet in
///    the same writer (which merges them into one row when they share a
///    batch);
///  - snapshots all go to the first writer, so they are written in the
///    order they were taken (they are absolute values: the last one wins);
///  - flush and stats ask every writer and combine the answers (flush is
///    true once every writer committed everything sent before it).
/// Stopping the router stops its writers.
msg::persistence_actor spawn_persistence(caf::actor_system& system, writer_config cfg, std::size_t connections,
                                         std::shared_ptr<core::backlog_gate> gate);

}  // namespace agentreg::db
