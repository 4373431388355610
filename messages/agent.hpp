#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "core/error.hpp"
#include "core/heartbeat.hpp"
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
  void operator()(core::expected<core::agent>&& answer) const {
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
      // Built only when unanswered: a message always answered should not
      // pay for the text of its drop.
      if (done)
        answer(core::error{core::errc::unknown_agent,
                           "agent " + agent_id + " is not registered (its actor stopped before answering)"});
    }
    void answer(core::expected<core::agent>&& a) {
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

/// The shared part of one registry::heartbeat_many call: the items, a
/// result per item that the agents' actors fill, and the completion, run
/// exactly once by whoever lets go of the last of the batch's messages
/// (handled, or dropped unread: a dropped item is answered unknown_agent).
/// The caller answers the items it can itself (bad input, unknown ids)
/// before it sends; no result is written twice (each index travels in one
/// message), so results need no lock: the last release of the count orders
/// every write before the completion reads them.
class heartbeat_batch {
 public:
  using results = std::vector<core::expected<core::heartbeat_ack>>;
  using completion = std::function<void(core::expected<results>)>;

  /// Made by the caller, which holds it until it calls release() once it
  /// has sent every item. `unanswered` (when given) is decremented once
  /// after the completion has run, as agent_reply does.
  static heartbeat_batch* make(std::vector<core::heartbeat_item> items, completion done,
                               std::atomic<std::int64_t>* unanswered) {
    return new heartbeat_batch(std::move(items), std::move(done), unanswered);
  }
  heartbeat_batch(const heartbeat_batch&) = delete;
  heartbeat_batch& operator=(const heartbeat_batch&) = delete;

  [[nodiscard]] const std::vector<core::heartbeat_item>& items() const { return items_; }
  /// Item i's result: written by the caller before item i is sent (then
  /// the item is not sent), or by the one actor that handles its message.
  core::expected<core::heartbeat_ack>& result(std::size_t i) { return results_[i]; }

  /// One more holder (a message about to be sent). Any holder.
  void retain() {
    // relaxed: a new holder is made from one that already holds it.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  /// One holder less; the last runs the completion. Any thread.
  void release() {
    // acq_rel: releases this holder's result write; the last acquires all.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1)
      return;
    // A result still unanswered (an empty message: no answer has one) was
    // dropped unread; its text is built only now.
    for (std::size_t i = 0; i < results_.size(); ++i)
      if (!results_[i] && results_[i].error().message.empty())
        results_[i] = core::error{core::errc::unknown_agent, "agent " + items_[i].agent_id +
                                                                 " is not registered (its actor stopped before answering)"};
    auto run = std::move(done_);
    auto* unanswered = unanswered_;
    run(std::move(results_));
    delete this;
    // release: what the completion did happens before the owner's acquire
    // load that sees the count drop (as agent_reply).
    if (unanswered && unanswered->fetch_sub(1, std::memory_order_release) == 1)
      unanswered->notify_all();
  }

 private:
  heartbeat_batch(std::vector<core::heartbeat_item> items, completion done, std::atomic<std::int64_t>* unanswered)
      : items_(std::move(items)),
        results_(items_.size(), core::error{core::errc::unknown_agent, {}}),
        done_(std::move(done)),
        unanswered_(unanswered) {}
  ~heartbeat_batch() = default;

  std::atomic<std::uint32_t> refs_{1};  ///< the caller's own, until it has sent every item
  std::vector<core::heartbeat_item> items_;
  results results_;
  completion done_;
  std::atomic<std::int64_t>* unanswered_;
};

/// One item of a heartbeat_batch, as it travels to the item's agent actor.
/// Copies hold the batch too (CAF may copy a message); the actor writes
/// the item's result, and the batch completes when the last copy goes.
class heartbeat_slot {
 public:
  heartbeat_slot() = default;
  /// Holds `batch` (retained here) for item `index`.
  heartbeat_slot(heartbeat_batch* batch, std::size_t index) : batch_(batch), index_(index) { batch_->retain(); }
  heartbeat_slot(const heartbeat_slot& other) : batch_(other.batch_), index_(other.index_) {
    if (batch_)
      batch_->retain();
  }
  heartbeat_slot& operator=(const heartbeat_slot&) = delete;
  ~heartbeat_slot() {
    if (batch_)
      batch_->release();
  }
  /// Sets the item's result. Called by the one actor that handles the message.
  void operator()(core::expected<core::heartbeat_ack>&& answer) const {
    if (batch_)
      batch_->result(index_) = std::move(answer);
  }

 private:
  heartbeat_batch* batch_ = nullptr;
  std::size_t index_ = 0;
};

/// The protocol of an agent actor: the single writer of its agent's spec,
/// status, reported load and heartbeat. The four calls that change them are
/// one-way and answer through their agent_reply, in the order they arrive.
using agent_actor = caf::typed_actor<
    /// Refreshes the heartbeat; with `has_load`, also sets the reported load;
    /// brings an offline agent back online. Errors: load_out_of_range. Safe to repeat.
    caf::reacts_to<heartbeat_atom, bool /*has_load*/, std::int64_t /*load*/, agent_reply>,
    /// The same, for one item of a heartbeat_many batch: answers its status
    /// and load only (no copy of the spec).
    caf::reacts_to<heartbeat_atom, bool /*has_load*/, std::int64_t /*load*/, heartbeat_slot>,
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
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentreg::msg::heartbeat_slot)
