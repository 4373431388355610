#pragma once

#include <cstdint>
#include <optional>

#include "actors/context.hpp"
#include "core/change_log.hpp"

/// What the engine tells its change stream (core::change_log), from the
/// points where a change is made: the facade's calls, the agent actors and
/// the supervisor's sweep. Each records and returns at once (see
/// change_log::record); the agent's state is read when it is published.
namespace agentreg::actors {

/// A change of the agent with `serial` (registered, updated, status, load).
void record_agent_change(engine_context& ctx, core::change_kind kind, std::uint64_t serial);
/// An agent unregistered: it is gone when published, so its id and type go along.
void record_unregistered(engine_context& ctx, const std::string& agent_id, const std::string& agent_type);
/// A lease granted or released on the agent at `ref` (the hot paths' handle).
void record_lease_change(engine_context& ctx, core::change_kind kind, index::agent_ref ref);
/// A completed execution (by its caller or timed out by the sweep); `id` is
/// e.id as a number, `agent_serial` its agent's (0: unknown, found by id),
/// `handle` its agent's slot in the index when it started (none for an
/// execution recovered from the database): the change is resolved from
/// there while the agent is still in it (see change_resolver).
void record_completion(engine_context& ctx, const core::uuid& id, std::uint64_t agent_serial,
                       std::optional<index::agent_ref> handle, const core::execution& e);
/// What a sweep did that watchers care about: leases expired, evictions held.
void record_sweep(engine_context& ctx, const core::sweep_report& report);

/// Fills a published change's agent fields from the directory and the index.
core::change_log::resolver change_resolver(const engine_context& ctx);

}  // namespace agentreg::actors
