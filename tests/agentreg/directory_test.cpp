// The directory on its own: take_all, the teardown's way out of it.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "actors/directory.hpp"

using namespace agentreg;

namespace {

std::shared_ptr<actors::agent_record> record(std::uint64_t serial) {
  return std::make_shared<actors::agent_record>("agent-" + std::to_string(serial), serial, 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(actors_directory)

BOOST_AUTO_TEST_CASE(take_all_of_an_empty_directory_is_empty) {
  actors::directory d;
  BOOST_TEST(d.take_all().empty());
  BOOST_TEST(d.size() == 0u);
}

// Serials inserted out of order, spread over every shard of both maps (and
// past a shard's first growth): answered in serial order, every record
// once, and the directory keeps no reference to any.
BOOST_AUTO_TEST_CASE(take_all_answers_every_record_in_serial_order_and_empties_the_directory) {
  constexpr std::uint64_t n = 5000;
  std::vector<std::uint64_t> serials(n);
  std::iota(serials.begin(), serials.end(), std::uint64_t{7});
  std::shuffle(serials.begin(), serials.end(), std::mt19937_64{42});
  actors::directory d;
  for (const auto s : serials)
    BOOST_REQUIRE(d.insert(record(s)).second);
  BOOST_REQUIRE(d.size() == n);

  const auto all = d.take_all();
  BOOST_REQUIRE(all.size() == n);
  for (std::uint64_t i = 0; i < n; ++i) {
    BOOST_REQUIRE(all[i]);
    BOOST_TEST(all[i]->serial == 7 + i);
    BOOST_TEST(all[i]->agent_id == "agent-" + std::to_string(7 + i));
    BOOST_TEST(all[i].use_count() == 1);  // the directory let go of it
  }
  BOOST_TEST(d.size() == 0u);
  BOOST_TEST(!d.find("agent-7"));
  BOOST_TEST(!d.find_serial(7));
  bool any = false;
  d.for_each([&](const auto&) { any = true; });
  BOOST_TEST(!any);

  // Still usable afterwards: the id is free again.
  BOOST_TEST(d.insert(record(7)).second);
  BOOST_TEST(d.size() == 1u);
  BOOST_TEST(d.find("agent-7"));
}

// Both ways take_all orders: serials dense with holes (every third
// record erased: placed by serial, the holes squeezed out), and serials
// spread far wider than the directory (sorted).
BOOST_AUTO_TEST_CASE(take_all_orders_dense_serials_with_holes_and_sparse_serials) {
  for (const std::uint64_t stride : {std::uint64_t{1}, std::uint64_t{1000}}) {
    BOOST_TEST_CONTEXT("serials " << stride << " apart") {
      std::vector<std::uint64_t> serials;
      for (std::uint64_t i = 0; i < 3000; ++i)
        serials.push_back(1 + i * stride);
      std::shuffle(serials.begin(), serials.end(), std::mt19937_64{stride});
      actors::directory d;
      std::vector<std::shared_ptr<actors::agent_record>> erased;
      for (const auto s : serials) {
        auto rec = record(s);
        BOOST_REQUIRE(d.insert(rec).second);
        if (s % 3 == 0)
          erased.push_back(rec);
      }
      for (const auto& rec : erased)
        BOOST_REQUIRE(d.erase(*rec));
      const auto all = d.take_all();
      BOOST_REQUIRE(all.size() == serials.size() - erased.size());
      BOOST_TEST(std::is_sorted(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->serial < b->serial; }));
      const bool repeated = std::adjacent_find(all.begin(), all.end(), [](const auto& a, const auto& b) {
                              return a->serial == b->serial;
                            }) != all.end();
      BOOST_TEST(!repeated);
      BOOST_TEST(std::none_of(all.begin(), all.end(), [](const auto& r) { return !r || r->serial % 3 == 0; }));
      BOOST_TEST(d.size() == 0u);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
