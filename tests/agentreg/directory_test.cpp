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

BOOST_AUTO_TEST_SUITE_END()
