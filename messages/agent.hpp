#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "core/error.hpp"
#include "core/types.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

namespace agentreg::msg {

/// How an agent actor answers a one-way request (heartbeat, status, load,
/// spec): it runs the caller's completion itself, on its own thread, so a
/// caller that must not wait pays one mailbox trip (no asker, no reply
/// message). The completion runs exactly once: with the actor's answer, or,
/// when the message is dropped unread because the actor stopped (the agent
/// was unregistered, or the engine is stopping), with unknown_agent when the
/// last copy of the reply goes. Copies share that one answer. After the
/// completion has run, `unanswered` (when given) is decremented, so that its
/// owner can wait for every answer (the registry's destructor does).
class agent_reply {
 public:
  using completion = std::function<void(core::expected<core::agent>)>;
  agent_reply() = default;
  agent_reply(std::string agent_id, completion done, std::atomic<std::int64_t>* unanswered)
      : state_(std::make_shared<state>(std::move(agent_id), std::move(done), unanswered)) {}
  /// Runs the completion with `answer`; later calls do nothing. Called by
  /// the one actor that handles the message.
  void operator()(core::expected<core::agent> answer) const {
    if (state_)
      state_->answer(std::move(answer));
  }

 private:
  struct state {
    state(std::string id, completion d, std::atomic<std::int64_t>* u)
        : agent_id(std::move(id)), done(std::move(d)), unanswered(u) {}
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
      answer(core::error{core::errc::unknown_agent,
                         "agent " + agent_id + " is not registered (its actor stopped before answering)"});
    }
    void answer(core::expected<core::agent> a) {
      if (!done)
        return;
      auto run = std::move(done);
      done = nullptr;
      run(std::move(a));
      // release: what the completion did happens before the owner's acquire
      // load that sees the count drop.
      if (unanswered && unanswered->fetch_sub(1, std::memory_order_release) == 1)
        unanswered->notify_all();
    }
    std::string agent_id;
    completion done;  ///< empty once answered
    std::atomic<std::int64_t>* unanswered;
  };
  std::shared_ptr<state> state_;
};

/// The protocol of an agent actor: the single writer of its agent's spec,
/// status, reported load and heartbeat. The four calls that change them are
/// one-way and answer through their agent_reply, in the order they arrive.
using agent_actor = caf::typed_actor<
    /// Refreshes the heartbeat; with `has_load`, also sets the reported load;
    /// brings an offline agent back online. Errors: load_out_of_range. Safe to repeat.
    caf::reacts_to<heartbeat_atom, bool /*has_load*/, std::int64_t /*load*/, agent_reply>,
    /// Sets online, offline or paused. Errors: invalid_status (busy). Safe to repeat.
    caf::reacts_to<status_atom, core::agent_status, agent_reply>,
    /// Sets the reported load. Errors: load_out_of_range. Safe to repeat.
    caf::reacts_to<load_atom, std::int64_t, agent_reply>,
    /// Replaces the spec (re-registration); keeps load and history.
    /// Errors: invalid_capacity, capacity_below_load, invalid_argument. Safe to repeat.
    caf::reacts_to<spec_atom, core::agent_spec, agent_reply>,
    /// From the sweep: goes offline if the last heartbeat is still older than
    /// the given monotonic time; answers whether it did. Safe to repeat.
    caf::replies_to<offline_atom, core::monotonic_time /*stale_before*/>::with<bool>>;

}  // namespace agentreg::msg

// A closure never crosses a network: the message stays in this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentreg::msg::agent_reply)
