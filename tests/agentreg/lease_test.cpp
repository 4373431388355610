#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agentreg/registry.hpp"
#include "tests/agentreg/fixture.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace {

struct fixture : test::registry_fixture {
  std::int64_t load(const std::string& id) { return reg.get_agent(id)->current_load; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_lease)

BOOST_FIXTURE_TEST_CASE(renew_moves_the_expiry_to_now_plus_the_ttl, fixture) {
  add("a", 1);
  auto l = reg.acquire("planner", {.ttl = 30s});
  BOOST_REQUIRE(bool(l));
  clock->advance(20s);
  auto renewed = reg.renew(*l, 30s);
  BOOST_REQUIRE(bool(renewed));
  BOOST_TEST(renewed->agent_id == "a");
  BOOST_TEST(renewed->expires_at == clock->now() + core::timestamp{30} * core::ns_per_s);
  BOOST_TEST(renewed->lease_id == l->lease_id);
  clock->advance(29s);  // 49 s after the acquire: past its first expiry
  BOOST_TEST(reg.sweep()->leases_reclaimed == 0);
  BOOST_TEST(load("a") == 1);
  clock->advance(1s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
  BOOST_TEST(load("a") == 0);
}

BOOST_FIXTURE_TEST_CASE(renew_gives_a_lease_without_ttl_one, fixture) {
  add("a", 1);
  auto l = reg.acquire("planner");
  BOOST_REQUIRE(bool(l));
  BOOST_TEST(l->expires_at == 0);
  BOOST_REQUIRE(bool(reg.renew(*l, 5s)));
  clock->advance(5s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
}

BOOST_FIXTURE_TEST_CASE(renew_after_release_expiry_or_reclaim_answers_lease_not_held, fixture) {
  add("a", 3);
  auto released = reg.acquire("planner", {.ttl = 10s});
  BOOST_REQUIRE(bool(reg.release(*released)));
  BOOST_TEST((reg.renew(*released, 10s).code() == errc::lease_not_held));

  auto expired = reg.acquire("planner", {.ttl = 10s});
  auto reclaimed = reg.acquire("planner", {.ttl = 5s});
  BOOST_TEST(load("a") == 2);
  clock->advance(5s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
  BOOST_TEST((reg.renew(*reclaimed, 10s).code() == errc::lease_not_held));
  clock->advance(5s);  // `expired` is due now, and no sweep ran
  BOOST_TEST((reg.renew(*expired, 10s).code() == errc::lease_not_held));
  BOOST_TEST(load("a") == 0);  // the expired lease was freed by the refusal
  BOOST_TEST(reg.stats().leases_held == 0);
  BOOST_TEST((reg.release(*expired).code() == errc::lease_not_held));
}

BOOST_FIXTURE_TEST_CASE(renew_refuses_a_ttl_that_is_not_positive_or_overflows_and_changes_nothing, fixture) {
  add("a", 1);
  auto l = reg.acquire("planner", {.ttl = 10s});
  BOOST_REQUIRE(bool(l));
  BOOST_TEST((reg.renew(*l, 0s).code() == errc::invalid_argument));
  BOOST_TEST((reg.renew(*l, -1s).code() == errc::invalid_argument));
  BOOST_TEST((reg.renew(*l, std::chrono::nanoseconds::max()).code() == errc::invalid_argument));
  clock->advance(10s);  // still the first expiry
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
}

BOOST_FIXTURE_TEST_CASE(acquire_refuses_a_ttl_whose_expiry_overflows_instead_of_expiring_at_once, fixture) {
  add("a", 1);
  BOOST_TEST((reg.acquire("planner", {.ttl = std::chrono::nanoseconds::max()}).code() == errc::invalid_argument));
  BOOST_TEST(load("a") == 0);
  // The largest TTL that fits is accepted and not reclaimed.
  const auto largest = std::chrono::nanoseconds{std::numeric_limits<core::timestamp>::max() - clock->now()};
  auto l = reg.acquire("planner", {.ttl = largest});
  BOOST_REQUIRE(bool(l));
  BOOST_TEST(l->expires_at == std::numeric_limits<core::timestamp>::max());
  clock->advance(1000h);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 0);
  BOOST_TEST(bool(reg.release(*l)));
}

BOOST_FIXTURE_TEST_CASE(a_lease_with_a_wrong_secret_is_not_held_and_frees_or_renews_nothing, fixture) {
  add("a", 2);
  auto l = reg.acquire("planner", {.ttl = 10s});
  BOOST_REQUIRE(bool(l));
  for (const std::uint64_t flip : {std::uint64_t{1}, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
    lease forged = *l;
    forged.lease_id ^= flip;
    BOOST_TEST((reg.release(forged).code() == errc::lease_not_held));
    BOOST_TEST((reg.renew(forged, 1h).code() == errc::lease_not_held));
  }
  lease other_record = *l;
  other_record.record += 1000;
  BOOST_TEST((reg.release(other_record).code() == errc::lease_not_held));
  BOOST_TEST(load("a") == 1);
  clock->advance(10s);  // not renewed by the forgeries
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
}

BOOST_FIXTURE_TEST_CASE(lease_secrets_are_random_not_sequential, fixture) {
  add("a", 100);
  std::set<std::uint64_t> secrets;
  std::uint64_t high_bits_seen = 0;
  for (int i = 0; i < 100; ++i) {
    auto l = reg.acquire("planner");
    BOOST_REQUIRE(bool(l));
    secrets.insert(l->lease_id);
    high_bits_seen |= l->lease_id >> 32;
    BOOST_REQUIRE(bool(reg.release(*l)));  // the same record each time
  }
  BOOST_TEST(secrets.size() == 100u);
  // A record number or a sequence would leave the high half near zero.
  BOOST_TEST(high_bits_seen == 0xffffffffull);
}

BOOST_FIXTURE_TEST_CASE(the_text_form_of_a_lease_is_url_safe_and_parses_back_to_a_working_lease, fixture) {
  add("a", 2);
  auto l = reg.acquire("planner", {.ttl = 10s});
  BOOST_REQUIRE(bool(l));
  const std::string text = to_string(*l);
  BOOST_TEST(text.size() == 32u);
  BOOST_TEST(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
             std::string::npos);
  auto parsed = parse_lease(text);
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->agent_id.empty());
  BOOST_TEST(parsed->lease_id == l->lease_id);
  BOOST_TEST(parsed->record == l->record);
  BOOST_TEST(parsed->pool == l->pool);
  BOOST_TEST(parsed->slot == l->slot);
  BOOST_TEST(parsed->generation == l->generation);
  BOOST_TEST(to_string(*parsed) == text);
  auto renewed = reg.renew(*parsed, 1h);
  BOOST_REQUIRE(bool(renewed));
  BOOST_TEST(renewed->agent_id == "a");  // from the registry, not from the text
  BOOST_TEST(bool(reg.release(*parsed)));
  BOOST_TEST(load("a") == 0);
  BOOST_TEST((reg.release(*parsed).code() == errc::lease_not_held));
}

BOOST_FIXTURE_TEST_CASE(garbage_text_is_no_lease_and_a_well_formed_forgery_is_a_clean_lease_not_held, fixture) {
  add("a", 2);
  auto l = reg.acquire("planner");
  BOOST_REQUIRE(bool(l));
  const std::string text = to_string(*l);
  for (const std::string& bad : {std::string{}, std::string{"abc"}, text.substr(1), text + "A",
                                text.substr(0, 31) + "=", text.substr(0, 31) + "+", text.substr(0, 31) + "/",
                                text.substr(0, 31) + " ", std::string(32, '.'), std::string(31, 'A') + '\0'})
    BOOST_TEST(!parse_lease(bad).has_value(), "accepted " << bad);
  // Well-formed texts that name no holding: another secret, a record far
  // beyond the table, every field at its largest.
  std::string flipped = text;
  flipped[31] = flipped[31] == 'A' ? 'B' : 'A';
  for (const std::string& forged : {flipped, std::string(32, '_'), std::string(32, 'A'), std::string(32, '-')}) {
    auto parsed = parse_lease(forged);
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((reg.release(*parsed).code() == errc::lease_not_held), forged);
    BOOST_TEST((reg.renew(*parsed, 1s).code() == errc::lease_not_held), forged);
  }
  BOOST_TEST(load("a") == 1);
  BOOST_TEST(bool(reg.release(*l)));
}

BOOST_FIXTURE_TEST_CASE(unregistering_an_agent_ends_its_leases_and_a_later_release_is_lease_not_held, fixture) {
  add("a", 2);
  add("b", 2);
  auto on_a = reg.acquire("planner");  // no TTL: before, held forever
  auto on_b = reg.acquire("planner");
  BOOST_REQUIRE(bool(on_a));
  BOOST_REQUIRE(bool(on_b));
  if (on_a->agent_id != "a")
    std::swap(on_a, on_b);
  BOOST_REQUIRE(on_a->agent_id == "a");
  BOOST_TEST(reg.stats().leases_held == 2);
  BOOST_REQUIRE(bool(reg.unregister_agent("a")));
  BOOST_TEST(reg.stats().leases_held == 1);
  BOOST_TEST((reg.release(*on_a).code() == errc::lease_not_held));
  BOOST_TEST((reg.renew(*on_a, 1s).code() == errc::lease_not_held));
  // Registered again, the agent starts free; the old lease frees none of it.
  add("a", 2);
  BOOST_TEST(load("a") == 0);
  BOOST_TEST((reg.release(*on_a).code() == errc::lease_not_held));
  BOOST_TEST(load("a") == 0);
  BOOST_TEST(bool(reg.release(*on_b)));
  BOOST_TEST(reg.stats().leases_held == 0);
}

BOOST_FIXTURE_TEST_CASE(the_sweep_frees_the_records_of_leases_whose_agent_left, fixture) {
  add("a", 2);
  auto l = reg.acquire("planner");
  BOOST_REQUIRE(bool(l));
  BOOST_REQUIRE(bool(reg.unregister_agent("a")));
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 0);
  BOOST_TEST((reg.release(*l).code() == errc::lease_not_held));
}

BOOST_FIXTURE_TEST_CASE(registering_again_keeps_a_paused_agent_paused_under_the_same_or_another_type, fixture) {
  add("a", 2);
  BOOST_REQUIRE(bool(reg.update_status("a", agent_status::paused)));
  add("a", 3);
  BOOST_TEST((reg.get_agent("a")->status == agent_status::paused));
  agent_spec coder{"a", "coder", "claude", "claude-3-5-sonnet-20241022"};
  coder.max_capacity = 3;
  auto moved = reg.register_agent(coder);
  BOOST_REQUIRE(bool(moved));
  BOOST_TEST((moved->status == agent_status::paused));
  BOOST_TEST((reg.acquire("coder").code() == errc::no_capacity));
  // An offline agent comes back online, as a first registration is.
  BOOST_REQUIRE(bool(reg.update_status("a", agent_status::offline)));
  BOOST_TEST((reg.register_agent(coder)->status == agent_status::online));
}

BOOST_FIXTURE_TEST_CASE(a_type_change_refused_while_leases_are_held_changes_nothing, fixture) {
  add("a", 2);
  auto l = reg.acquire("planner");
  BOOST_REQUIRE(bool(l));
  agent_spec coder{"a", "coder", "claude", "claude-3-5-sonnet-20241022"};
  coder.max_capacity = 2;
  BOOST_TEST((reg.register_agent(coder).code() == errc::invalid_argument));
  BOOST_TEST(reg.get_agent("a")->agent_type == "planner");
  BOOST_TEST(load("a") == 1);
  BOOST_TEST((reg.acquire("coder").code() == errc::unknown_type));  // no pool was made for it
  BOOST_TEST(bool(reg.release(*l)));
  BOOST_TEST(reg.register_agent(coder)->agent_type == "coder");
}

BOOST_AUTO_TEST_CASE(refused_registrations_use_up_none_of_max_agent_types) {
  config c;
  c.auto_sweep = false;
  c.max_agent_types = 2;
  registry reg{c};
  agent_spec a{"a", "planner", "claude", "claude-3-5-sonnet-20241022"};
  a.max_capacity = 4;
  BOOST_REQUIRE(bool(reg.register_agent(a)));
  BOOST_REQUIRE(bool(reg.update_load("a", 3)));
  // Refused type changes: the new capacity is below the load the agent
  // reports, or it holds a lease.
  for (const char* type : {"coder", "writer"}) {
    agent_spec moved = a;
    moved.agent_type = type;
    moved.max_capacity = 2;
    BOOST_TEST((reg.register_agent(moved).code() == errc::capacity_below_load));
  }
  BOOST_REQUIRE(bool(reg.acquire("planner")));
  agent_spec moved = a;
  moved.agent_type = "tester";
  BOOST_TEST((reg.register_agent(moved).code() == errc::invalid_argument));
  BOOST_TEST(reg.get_agent("a")->agent_type == "planner");
  agent_spec b{"b", "reviewer", "claude", "claude-3-5-sonnet-20241022"};
  BOOST_TEST(bool(reg.register_agent(b)));  // the second type of two
  agent_spec third{"c", "third", "claude", "claude-3-5-sonnet-20241022"};
  const auto refused = reg.register_agent(third);
  BOOST_TEST((refused.code() == errc::invalid_argument));
  BOOST_TEST_MESSAGE(refused.error().message);
  BOOST_TEST((reg.get_agent("c").code() == errc::unknown_agent));
}

// Acquire names a picked agent from the label its slot keeps (ids of up to
// 56 bytes) or else from the directory by the slot's serial: each registry
// below has its own serial 1, and the names must stay those of the registry
// asked, by either way.
BOOST_AUTO_TEST_CASE(acquire_names_the_agent_of_the_registry_asked_by_label_and_by_serial) {
  std::vector<std::unique_ptr<registry>> regs;
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    config c;
    c.auto_sweep = false;
    regs.push_back(std::make_unique<registry>(c));
    // Serial 1 in every registry; some ids too long for a short string.
    ids.push_back(i % 2 ? "agent-" + std::to_string(i) : std::string(200, static_cast<char>('a' + i)));
    BOOST_REQUIRE(bool(regs.back()->register_agent({ids.back(), "planner", "claude", "claude-3-5-sonnet-20241022"})));
  }
  for (int round = 0; round < 3; ++round)
    for (std::size_t i = 0; i < regs.size(); ++i) {
      auto l = regs[i]->acquire("planner");
      BOOST_REQUIRE(bool(l));
      BOOST_TEST(l->agent_id == ids[i]);
      BOOST_TEST(regs[i]->get_agent(l->agent_id)->current_load == 1);
      BOOST_REQUIRE(bool(regs[i]->release(*l)));
    }
}

BOOST_FIXTURE_TEST_CASE(every_lease_names_the_agent_whose_slot_it_holds_across_label_chunks_and_id_lengths, fixture) {
  // 4 100 agents of one slot each, past the first chunk of 4 096 labels;
  // every seventh id is one byte longer than a label holds (57), every
  // eleventh exactly as long (56), so both ways of naming are checked.
  constexpr int agents = 4100;
  const auto id_of = [](int i) {
    std::string id = "agent-" + std::to_string(i);
    if (i % 7 == 0)
      id.resize(57, 'x');
    else if (i % 11 == 0)
      id.resize(56, 'y');
    return id;
  };
  for (int i = 0; i < agents; ++i)
    add(id_of(i), 1);
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<lease> held;
    std::set<std::string> named;
    for (int i = 0; i < agents; ++i) {
      auto l = reg.acquire("planner");
      BOOST_REQUIRE(bool(l));
      named.insert(l->agent_id);
      held.push_back(*l);
    }
    BOOST_TEST(named.size() == std::size_t{agents});  // each agent's only slot, each named once
    BOOST_TEST((reg.acquire("planner").code() == errc::no_capacity));
    for (const auto& l : held) {
      BOOST_TEST(load(l.agent_id) == 1);  // the agent named is the one whose slot is held
      BOOST_REQUIRE(bool(reg.release(l)));
      BOOST_TEST(load(l.agent_id) == 0);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(an_agent_moved_to_another_type_is_named_in_its_new_type, fixture) {
  add("short", 1);
  add(std::string(80, 'l'), 1);
  // Registered again with another type: the same agents, moved.
  add("short", "coder", 1);
  add(std::string(80, 'l'), "coder", 1);
  std::set<std::string> named;
  std::vector<lease> held;
  for (int i = 0; i < 2; ++i) {
    auto l = reg.acquire("coder");
    BOOST_REQUIRE(bool(l));
    named.insert(l->agent_id);
    held.push_back(*l);
  }
  BOOST_TEST((named == std::set<std::string>{"short", std::string(80, 'l')}));
  for (const auto& l : held) {
    BOOST_TEST(load(l.agent_id) == 1);
    BOOST_REQUIRE(bool(reg.release(l)));
  }
  BOOST_TEST((reg.acquire("planner").code() == errc::no_capacity));
}

BOOST_FIXTURE_TEST_CASE(a_lease_after_the_id_was_registered_again_names_the_new_agent_of_the_type_asked, fixture) {
  add("a", 1);
  auto first = reg.acquire("planner");
  BOOST_REQUIRE(bool(first));
  BOOST_REQUIRE(bool(reg.release(*first)));
  BOOST_REQUIRE(bool(reg.unregister_agent("a")));
  add("b", 1);
  auto l = reg.acquire("planner");
  BOOST_REQUIRE(bool(l));
  BOOST_TEST(l->agent_id == "b");
  BOOST_REQUIRE(bool(reg.unregister_agent("b")));
  BOOST_TEST((reg.acquire("planner").code() == errc::no_capacity));
  add("a", "coder", 1);
  auto again = reg.acquire("coder");
  BOOST_REQUIRE(bool(again));
  BOOST_TEST(again->agent_id == "a");
  BOOST_TEST((reg.release(*first).code() == errc::lease_not_held));
}

BOOST_AUTO_TEST_SUITE_END()
