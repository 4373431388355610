#include "actors/context.hpp"

namespace agentreg::actors {

core::error to_core(index::errc e, const std::string& agent_id) {
  using index::errc;
  switch (e) {
    case errc::ok: return {core::errc::ok, ""};
    case errc::no_capacity: return {core::errc::no_capacity, "no eligible agent has a free slot"};
    case errc::unknown_type: return {core::errc::unknown_type, "no agent of this type is registered"};
    case errc::unknown_agent: return {core::errc::unknown_agent, "agent " + agent_id + " is not registered"};
    case errc::invalid_capacity: return {core::errc::invalid_capacity, "max_capacity must be within 1..4095"};
    case errc::capacity_below_load:
      return {core::errc::capacity_below_load, "agent " + agent_id + " has more load than the new capacity"};
    case errc::load_out_of_range:
      return {core::errc::load_out_of_range, "load must be within 0..max_capacity (leased slots included)"};
    case errc::invalid_status: return {core::errc::invalid_status, "busy is derived from the load; it cannot be set"};
    case errc::lease_not_held: return {core::errc::lease_not_held, "the lease was already released or expired"};
    case errc::too_many_agents: return {core::errc::invalid_argument, "too many agents of this type (max 2^20)"};
    case errc::too_many_types:
      return {core::errc::invalid_argument, "too many agent types (config max_agent_types); a type once "
                                            "registered counts until the registry restarts"};
    case errc::too_many_leases: return {core::errc::no_capacity, "too many leases held at once (max 2^24)"};
    case errc::agent_has_leases:
      return {core::errc::invalid_argument, "cannot change agent_type of " + agent_id + " while it holds leases"};
  }
  return {core::errc::internal, "unknown index error"};
}

}  // namespace agentreg::actors
