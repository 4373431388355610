// The directory on its own (take_all, the teardown's way out of it), and
// the binding it publishes for each agent.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "actors/agent_binding.hpp"
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

BOOST_AUTO_TEST_SUITE(actors_binding)

core::agent_spec full_spec() {
  core::agent_spec s;
  s.agent_id = "agent-with-an-id-longer-than-fifteen-bytes";
  s.agent_type = "planner";
  s.llm_provider = "anthropic";
  s.model_name = "claude-sonnet-4";
  s.temperature = 0.25;
  s.max_tokens = 4096;
  s.max_capacity = 4095;
  return s;
}

bool same(const core::agent_spec& a, const core::agent_spec& b) {
  return a.agent_id == b.agent_id && a.agent_type == b.agent_type && a.llm_provider == b.llm_provider &&
         a.model_name == b.model_name && a.temperature == b.temperature && a.max_tokens == b.max_tokens &&
         a.max_capacity == b.max_capacity && a.metadata == b.metadata && a.agent_card == b.agent_card &&
         a.skills == b.skills;
}

BOOST_AUTO_TEST_CASE(a_spec_without_metadata_card_or_skills_keeps_no_extras_and_comes_back_whole) {
  const auto s = full_spec();
  const actors::agent_binding b{s, index::agent_ref{3, 7, 11}};
  BOOST_TEST(!b.extras);
  BOOST_TEST(b.skills().empty());
  BOOST_TEST(same(b.spec(), s));
  BOOST_TEST(b.ref.pool == 3u);
  BOOST_TEST(b.ref.slot == 7u);
  BOOST_TEST(b.ref.generation == 11u);
}

// Each of the three alone makes the extras, and every field comes back.
BOOST_AUTO_TEST_CASE(metadata_a_card_or_skills_each_keep_extras_and_come_back_whole) {
  for (int which = 0; which < 3; ++which) {
    BOOST_TEST_CONTEXT("extra " << which) {
      auto s = full_spec();
      if (which == 0)
        s.metadata = {{"region", "eu"}, {"tier", "gold"}};
      if (which == 1)
        s.agent_card = R"({"name":"Planner","version":"1.0"})";
      if (which == 2)
        s.skills = {"plan", "review"};
      const actors::agent_binding b{s, {}};
      BOOST_TEST(static_cast<bool>(b.extras));
      BOOST_TEST(same(b.spec(), s));
      BOOST_TEST((b.skills() == s.skills));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
