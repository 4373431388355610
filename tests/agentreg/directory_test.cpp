// The directory on its own (take_all, the teardown's way out of it), and
// the binding it publishes for each agent.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
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

// Serials inserted out of order, spread over every shard of both sets (and
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
  actors::profile_pool pool;
  const auto b = actors::bind(pool, s, index::agent_ref{3, 7, 11});
  BOOST_TEST(!b->profile->extras);
  BOOST_TEST(b->profile->skills().empty());
  BOOST_TEST(same(b->spec(), s));
  BOOST_TEST(b->ref.pool == 3u);
  BOOST_TEST(b->ref.slot == 7u);
  BOOST_TEST(b->ref.generation == 11u);
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
      actors::profile_pool pool;
      const auto b = actors::bind(pool, s, {});
      BOOST_TEST(static_cast<bool>(b->profile->extras));
      BOOST_TEST(same(b->spec(), s));
      BOOST_TEST((b->profile->skills() == s.skills));
      // Not shared: an equal spec gets a profile of its own.
      BOOST_TEST(actors::bind(pool, s, {})->profile != b->profile);
      BOOST_TEST(pool.size() == 0u);
    }
  }
}

// Agents with equal specs share one profile; each field that differs, by
// as little as a sign bit, makes another, and each comes back bit for bit.
BOOST_AUTO_TEST_CASE(equal_specs_share_a_profile_and_every_field_that_differs_makes_another) {
  actors::profile_pool pool;
  auto s = full_spec();
  const auto a = actors::bind(pool, s, {});
  s.agent_id = "another-id";
  const auto b = actors::bind(pool, s, {});
  BOOST_TEST(a->profile == b->profile);
  BOOST_TEST(a->agent_id != b->agent_id);
  BOOST_TEST(b->spec().agent_id == "another-id");
  BOOST_TEST(pool.size() == 1u);
  for (int which = 0; which < 6; ++which) {
    BOOST_TEST_CONTEXT("field " << which) {
      auto t = full_spec();
      if (which == 0) t.agent_type += "x";
      if (which == 1) t.llm_provider += "x";
      if (which == 2) t.model_name += "x";
      if (which == 3) t.temperature = std::nextafter(t.temperature, 10.0);
      if (which == 4) t.max_tokens += 1;
      if (which == 5) t.max_capacity += 1;
      const auto c = actors::bind(pool, t, {});
      BOOST_TEST(c->profile != a->profile);
      BOOST_TEST(same(c->spec(), t));
    }
  }
  auto zero = full_spec(), minus_zero = full_spec();
  zero.temperature = 0.0;
  minus_zero.temperature = -0.0;
  const auto z = actors::bind(pool, zero, {});
  const auto m = actors::bind(pool, minus_zero, {});
  BOOST_TEST(z->profile != m->profile);
  BOOST_TEST(!std::signbit(z->spec().temperature));
  BOOST_TEST(std::signbit(m->spec().temperature));
}

// A profile goes with its last agent, and the pool forgets it: agents of
// ever new specs, each let go, leave the pool within its bound (twice those
// in use, plus 64), not one entry per spec ever seen.
BOOST_AUTO_TEST_CASE(a_profile_goes_with_its_last_agent_and_the_pool_stays_bounded) {
  actors::profile_pool pool;
  std::weak_ptr<const actors::agent_profile> first;
  const auto kept = actors::bind(pool, full_spec(), {});
  for (int i = 0; i < 10'000; ++i) {
    auto s = full_spec();
    s.model_name = "model-" + std::to_string(i);
    const auto b = actors::bind(pool, s, {});
    if (i == 0)
      first = b->profile;
    BOOST_TEST_REQUIRE(pool.size() <= 2 * 2u + 64u);
  }
  BOOST_TEST(first.expired());
  // The one still in use is still shared.
  BOOST_TEST(actors::bind(pool, full_spec(), {})->profile == kept->profile);
}

// Registrations from several threads at once, half of them of one spec:
// each gets a profile equal to its spec, and the equal ones share one.
BOOST_AUTO_TEST_CASE(concurrent_interning_shares_equal_specs_and_never_mixes_them_up) {
  actors::profile_pool pool;
  constexpr int threads = 4, per_thread = 5'000;
  std::vector<std::vector<std::shared_ptr<const actors::agent_binding>>> made(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto s = full_spec();
        s.agent_id = "a-" + std::to_string(t) + "-" + std::to_string(i);
        if (i % 2 == 1)
          s.model_name = "m-" + std::to_string(i % 64);
        made[t].push_back(actors::bind(pool, s, {}));
        if (i % 3 == 0)
          made[t].pop_back();  // some go at once: profiles come and go meanwhile
      }
    });
  for (auto& w : workers)
    w.join();
  std::map<std::string, const actors::agent_profile*> by_model;
  for (const auto& list : made)
    for (const auto& b : list) {
      auto [it, fresh] = by_model.try_emplace(b->profile->model_name, b->profile.get());
      BOOST_TEST(it->second == b->profile.get());
      const auto i = std::stoi(b->agent_id.substr(b->agent_id.rfind('-') + 1));
      BOOST_TEST(b->profile->model_name == (i % 2 == 1 ? "m-" + std::to_string(i % 64) : full_spec().model_name));
    }
  BOOST_TEST(by_model.size() == 33u);
}

BOOST_AUTO_TEST_SUITE_END()
