#pragma once

#include <functional>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

namespace agentreg::msg {

/// Work the facade hands to an asker actor (agentreg/asker.hpp), which sends
/// requests on behalf of a thread that must not wait for their answers.
/// `send` runs in the asker: it sends its requests from `self` (request/then)
/// and calls `finished()` exactly once, after the last answer was handled.
/// The protocol of an asker is this one message, sent one-way; it also
/// answers `sync_atom` with `ok_atom` when no job is in flight or waiting.
struct ask_job {
  std::function<void(caf::event_based_actor* self, std::function<void()> finished)> send;
};

}  // namespace agentreg::msg

// A closure never crosses a network: the message stays in this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentreg::msg::ask_job)
