#pragma once

#include <caf/atom.hpp>

// Every atom of agentreg's protocols, once. CAF 0.17 atoms: at most 10
// characters. CAF itself provides tick_atom.
namespace agentreg::msg {

using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using spec_atom = caf::atom_constant<caf::atom("spec")>;
using offline_atom = caf::atom_constant<caf::atom("offline")>;
using crashed_atom = caf::atom_constant<caf::atom("crashed")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using batch_atom = caf::atom_constant<caf::atom("batch")>;
using perf_atom = caf::atom_constant<caf::atom("perf")>;
using perf_by_atom = caf::atom_constant<caf::atom("perf_by")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
/// "Here are snapshots" (to persistence).
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
/// "Take your snapshots and send them now" (to the aggregator).
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using changed_atom = caf::atom_constant<caf::atom("changed")>;
using unreg_atom = caf::atom_constant<caf::atom("unreg")>;

}  // namespace agentreg::msg
