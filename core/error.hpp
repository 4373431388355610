#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace agentreg::core {

/// Every error the engine answers. One enum for the whole engine: messages/
/// gives it a CAF error category, server/ maps it to HTTP statuses.
enum class errc : std::uint8_t {
  ok = 0,
  invalid_argument,       ///< empty id, malformed field (the message says which)
  unknown_agent,          ///< no agent with this id
  unknown_type,           ///< no agent of this type was ever registered
  unknown_execution,      ///< no running execution with this id
  already_completed,      ///< the execution was completed before
  invalid_capacity,       ///< max_capacity outside 1..4095
  capacity_below_load,    ///< new capacity below the agent's current load
  load_out_of_range,      ///< load < 0 or above capacity
  invalid_status,         ///< unknown status name, or a status that cannot be set
  invalid_tokens,         ///< negative or absurd (> 10^9) token counts
  invalid_cost,           ///< NaN, infinite, negative or absurd cost
  invalid_score,          ///< success_score outside 0..1
  no_capacity,            ///< every eligible agent of the type is at capacity
  lease_not_held,         ///< lease already released, reclaimed or unknown
  persistence_backlog,    ///< the write-behind buffer is full (refuse policy)
  shutting_down,          ///< the registry is stopping
  internal,               ///< a bug or an unexpected runtime failure
  limit_reached,          ///< a configured bound on input is reached (the message names it)
};

/// Stable snake_case name of an error code.
const char* to_string(errc e);

/// An error value: a code and a sentence for humans.
struct error {
  errc code = errc::ok;
  std::string message;
};

/// A value or an error. `operator bool` is true when it holds a value.
template <class T>
class expected {
 public:
  expected(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  expected(core::error e) : v_(std::move(e)) {}      // NOLINT
  expected(errc code, std::string message) : v_(core::error{code, std::move(message)}) {}

  explicit operator bool() const { return v_.index() == 0; }
  [[nodiscard]] bool has_value() const { return v_.index() == 0; }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  /// The error; only valid when `!*this`.
  [[nodiscard]] const core::error& error() const { return std::get<1>(v_); }
  [[nodiscard]] errc code() const { return has_value() ? errc::ok : error().code; }

 private:
  std::variant<T, core::error> v_;
};

/// The value of calls that answer nothing but success.
struct unit {};

}  // namespace agentreg::core
