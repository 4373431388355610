#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "core/types.hpp"
#include "messages/aggregator.hpp"

namespace agentreg::actors {

/// Where the hot calls leave their records for the aggregator: one lane per
/// thread stripe, so a caller takes an uncontended lock and appends. When a
/// lane reaches `batch_size` the caller takes it whole and sends it as one
/// one-way message (a send per record would wake the aggregator per record,
/// a futex syscall each time it was idle). The aggregator drains the lanes
/// on its tick and before it answers any query, so every record put here
/// before a query is counted in its answer. Thread-safe.
class outbox {
 public:
  static constexpr std::size_t lanes = 16;
  static constexpr std::size_t batch_size = 256;

  /// Appends; answers a full batch for the caller to send, if the lane filled.
  std::optional<msg::record_batch> put_started(core::execution e) { return put(&msg::record_batch::started, std::move(e)); }
  std::optional<msg::record_batch> put_completed(core::execution e) {
    return put(&msg::record_batch::completed, std::move(e));
  }
  std::optional<msg::record_batch> put_tool_call(core::tool_call_record r) {
    return put(&msg::record_batch::tool_calls, std::move(r));
  }

  /// Everything waiting in every lane, in one batch (empty if none).
  msg::record_batch drain();

 private:
  struct alignas(64) lane {
    std::mutex mutex;
    msg::record_batch records;
    std::size_t size = 0;
  };

  template <class T>
  std::optional<msg::record_batch> put(std::vector<T> msg::record_batch::*field, T item) {
    lane& l = lanes_[stripe()];
    std::lock_guard guard{l.mutex};
    (l.records.*field).push_back(std::move(item));
    if (++l.size < batch_size)
      return std::nullopt;
    l.size = 0;
    return std::exchange(l.records, {});
  }

  static std::size_t stripe();

  std::array<lane, lanes> lanes_;
};

}  // namespace agentreg::actors
