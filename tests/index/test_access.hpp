#pragma once

#include <cstdint>

#include "index/priority_index.hpp"

namespace agentreg::index {

// The tests' way into what the index keeps private: a lease record's
// sequence (to start it near its wrap point) and how many lease records
// the table has made.
struct test_access {
  static void set_lease_sequence(priority_index& idx, std::uint32_t record, std::uint64_t sequence) {
    idx.set_lease_sequence(record, sequence);
  }
  static std::uint64_t lease_sequence(const priority_index& idx, std::uint32_t record) {
    return idx.lease_sequence(record);
  }
  static std::uint32_t lease_records(const priority_index& idx) { return idx.lease_records(); }
};

}  // namespace agentreg::index
