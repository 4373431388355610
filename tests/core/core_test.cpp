#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/histogram.hpp"
#include "core/price_table.hpp"
#include "core/saturating.hpp"
#include "core/summary.hpp"
#include "core/uuid.hpp"
#include "core/validate.hpp"

using namespace agentreg::core;

BOOST_AUTO_TEST_SUITE(core_unit)

BOOST_AUTO_TEST_CASE(histogram_percentiles_are_within_the_stated_error_of_exact_percentiles) {
  std::mt19937_64 rng{42};
  std::lognormal_distribution<double> dist{5.0, 1.5};  // ms: a long tail, as LLM calls have
  std::vector<double> values;
  log_histogram h;
  for (int i = 0; i < 100'000; ++i) {
    const double v = dist(rng);
    values.push_back(v);
    h.add(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999}) {
    const double exact = values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1))];
    const double estimate = h.quantile(q);
    BOOST_TEST(std::abs(estimate - exact) / exact <= log_histogram::relative_error + 1e-9,
               "q=" << q << " exact=" << exact << " estimate=" << estimate);
  }
  BOOST_TEST(h.count() == 100'000u);
}

BOOST_AUTO_TEST_CASE(histogram_counts_zeros_exactly_and_survives_a_bucket_round_trip) {
  log_histogram h;
  h.add(0, 50);
  h.add(100, 50);
  BOOST_TEST(h.quantile(0.25) == 0.0);
  BOOST_TEST(std::abs(h.quantile(0.99) - 100) / 100 <= log_histogram::relative_error);
  auto copy = log_histogram::from_buckets(h.buckets());
  BOOST_TEST(copy.count() == 100u);
  BOOST_TEST(copy.quantile(0.99) == h.quantile(0.99));
  log_histogram empty;
  BOOST_TEST(empty.quantile(0.5) == 0.0);
}

BOOST_AUTO_TEST_CASE(uuids_are_version_4_unique_and_round_trip_through_text) {
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {
    const uuid u = make_uuid();
    const std::string text = to_string(u);
    BOOST_TEST(text.size() == 36u);
    BOOST_TEST(text[14] == '4');
    BOOST_TEST((*parse_uuid(text) == u));
    seen.insert(text);
  }
  BOOST_TEST(seen.size() == 10'000u);
  BOOST_TEST(!parse_uuid("not-a-uuid").has_value());
  BOOST_TEST(!parse_uuid("0123456789abcdef0123456789abcdef0123").has_value());
  BOOST_TEST(parse_uuid("0123ABCD-0123-4567-89ab-0123456789ab").has_value());
}

BOOST_AUTO_TEST_CASE(uuid_text_puts_each_digit_in_its_place_and_refuses_a_bad_one_anywhere) {
  const uuid u{0x0123456789abcdefull, 0xfedcba9876543210ull};
  const std::string text = "01234567-89ab-cdef-fedc-ba9876543210";
  BOOST_TEST(to_string(u) == text);
  char raw[uuid_text_length];
  to_chars(u, raw);
  BOOST_TEST(std::string(raw, uuid_text_length) == text);
  BOOST_TEST((*parse_uuid(text) == u));
  BOOST_TEST((*parse_uuid("01234567-89AB-CDEF-FEDC-BA9876543210") == u));
  BOOST_TEST((*parse_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff") == uuid{~0ull, ~0ull}));
  BOOST_TEST((*parse_uuid("00000000-0000-0000-0000-000000000000") == uuid{}));
  // Every digit position, and every dash, refuses what does not belong.
  for (std::size_t k = 0; k < text.size(); ++k) {
    const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
    for (const char bad : {'g', 'G', ' ', '\0', '/', ':', '@', '`', '\xB0', '\xE1', '\xC1', '\x7F', dash ? '0' : '-'}) {
      std::string t = text;
      t[k] = bad;
      BOOST_TEST_INFO("position " << k << ", character " << static_cast<int>(bad));
      BOOST_TEST(!parse_uuid(t).has_value());
    }
  }
  // Every byte value, in the first and the last digit of a group of 8: a
  // hex digit is read as its value, anything else refused.
  for (const std::size_t k : {std::size_t{0}, std::size_t{7}, std::size_t{28}, std::size_t{35}}) {
    for (int c = 0; c < 256; ++c) {
      std::string t(uuid_text_length, '0');
      t[8] = t[13] = t[18] = t[23] = '-';
      t[k] = static_cast<char>(c);
      const bool digit = std::isxdigit(c) != 0;
      const auto parsed = parse_uuid(t);
      BOOST_TEST_INFO("position " << k << ", byte " << c);
      BOOST_TEST(parsed.has_value() == digit);
      if (parsed && digit) {
        const std::uint64_t v = static_cast<std::uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        const int shift = static_cast<int>(4 * (k < 8 ? 15 - k : 35 - k));
        BOOST_TEST((*parsed == (k < 8 ? uuid{v << shift, 0} : uuid{0, v << shift})));
      }
    }
  }
  BOOST_TEST(!parse_uuid(text + "0").has_value());
  BOOST_TEST(!parse_uuid(text.substr(1)).has_value());
}

BOOST_AUTO_TEST_CASE(the_builtin_price_table_prices_by_exact_or_longest_prefix_match) {
  const auto t = price_table::builtin();
  BOOST_TEST(t.size() > 0u);
  BOOST_TEST(t.version() == "2026-11-01");
  const auto* sonnet = t.find("claude-3-5-sonnet-20241022");
  BOOST_REQUIRE(sonnet != nullptr);
  BOOST_TEST(sonnet->input == 3'000'000);
  const auto* mini = t.find("gpt-4o-mini-2024-07-18");
  BOOST_REQUIRE(mini != nullptr);
  BOOST_TEST(mini->input == 150'000);  // not gpt-4o's price: the longer key wins
  BOOST_TEST(t.find("unknown-model") == nullptr);
}

BOOST_AUTO_TEST_CASE(cost_is_exact_integer_micro_dollars_with_cached_tokens_at_their_rate) {
  const model_price p{3'000'000, 15'000'000, 300'000};  // USD 3 / 15 / 0.30 per million
  // 1500 prompt (500 cached), 800 completion:
  // 1000 * 3 + 500 * 0.3 + 800 * 15 = 3000 + 150 + 12000 = 15150 micro-dollars.
  BOOST_TEST(price_table::cost_micro_usd(p, 1500, 800, 500) == 15150);
  BOOST_TEST(price_table::cost_micro_usd(p, 1, 0, 0) == 3);
  BOOST_TEST(price_table::cost_micro_usd(p, 1'000'000'000, 1'000'000'000, 0) == 18'000'000'000);
}

BOOST_AUTO_TEST_CASE(a_malformed_price_table_is_rejected_with_the_field_named) {
  auto bad = price_table::parse(R"({"version": "x", "models": {"m": {"input_per_million_usd": "3"}}})", "t.json");
  BOOST_TEST(!bad);
  BOOST_TEST(bad.error().message.find("input_per_million_usd") != std::string::npos);
  BOOST_TEST(!price_table::parse("{not json", "t.json"));
  BOOST_TEST(!price_table::parse(R"({"models": {}})", "t.json"));
  BOOST_TEST(!price_table::load("/nonexistent/prices.json"));
  auto good = price_table::parse(
      R"({"version": "v2", "models": {"m": {"input_per_million_usd": 1, "output_per_million_usd": 2.5}}})", "t.json");
  BOOST_REQUIRE(good);
  BOOST_TEST(good->find("m")->cached_input == 1'000'000);  // defaults to the input price
}

BOOST_AUTO_TEST_CASE(summary_totals_saturate_at_the_int64_bound_instead_of_wrapping) {
  constexpr auto top = std::numeric_limits<std::int64_t>::max();
  BOOST_TEST(saturating_add(top - 1, 5) == top);
  BOOST_TEST(saturating_add(std::numeric_limits<std::int64_t>::min() + 1, -5) == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(saturating_add(40, 2) == 42);
  execution e;
  e.status = execution_status::success;
  e.total_tokens = top / 2 + 1;
  e.cost_micro_usd = top / 2 + 1;
  e.duration_ms = top / 2 + 1;
  e.retry_count = top / 2 + 1;
  performance_accumulator acc;
  acc.add(e);
  acc.add(e);
  auto p = acc.snapshot(group_by::agent, "a");
  BOOST_TEST(p.total_executions == 2);
  BOOST_TEST(p.total_tokens_used == top);
  BOOST_TEST(p.total_cost_micro_usd == top);
  BOOST_TEST(p.total_retries == top);
  BOOST_TEST(p.avg_duration_ms > 0);
  performance_accumulator merged;
  merged.merge(acc);
  merged.merge(acc);
  BOOST_TEST(merged.snapshot(group_by::agent, "a").total_cost_micro_usd == top);
  BOOST_TEST(merged.snapshot(group_by::agent, "a").total_executions == 4);
}

BOOST_AUTO_TEST_CASE(a_summary_delta_folds_into_exactly_what_adding_each_execution_gives) {
  // Keys that a separator byte would confuse: ("a\x1f", "b") and ("a",
  // "\x1f" "b") are different combinations, as are keys holding length-like
  // bytes and empty ones.
  const std::vector<std::array<std::string, 5>> keys = {
      {"a\x1f", "b", "m", "t", "w"},         {"a", "\x1f" "b", "m", "t", "w"},
      {std::string("\x01\0\0\0x", 5), "", "m", "t", "w"}, {"", std::string("\x01\0\0\0x", 5), "m", "t", "w"},
      {"agent-1", "planner", "gpt-4o", "", ""}, {"agent-1", "planner", "gpt-4o", "summarize", "flow"},
  };
  summary_set direct;
  summary_set folded;
  summary_delta delta;
  std::int64_t n = 0;
  for (int round = 0; round < 3; ++round)
    for (const auto& k : keys) {
      execution e;
      e.agent_id = k[0];
      e.agent_type = k[1];
      e.model_name = k[2];
      e.task_type = k[3];
      e.workflow_slug = k[4];
      e.status = static_cast<execution_status>(1 + (n % 3));
      e.duration_ms = 10 * (++n);
      e.total_tokens = n;
      e.cost_micro_usd = 1000 * n;
      e.retry_count = n % 2;
      e.completed_at = n;
      direct.add(e);
      delta.add(e);
    }
  BOOST_TEST(delta.size() == keys.size());
  delta.fold_into(folded);
  for (const auto dim : {group_by::agent, group_by::agent_type, group_by::model, group_by::task_type, group_by::workflow}) {
    const auto& want = direct.of(dim);
    const auto& got = folded.of(dim);
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (const auto& [key, acc] : want) {
      BOOST_TEST_INFO("dimension " << to_string(dim) << ", key \"" << key << "\"");
      BOOST_TEST_REQUIRE(got.count(key) == 1u);
      const auto a = acc.snapshot(dim, key);
      const auto b = got.at(key).snapshot(dim, key);
      BOOST_TEST(b.total_executions == a.total_executions);
      BOOST_TEST(b.successful_executions == a.successful_executions);
      BOOST_TEST(b.failed_executions == a.failed_executions);
      BOOST_TEST(b.timeout_executions == a.timeout_executions);
      BOOST_TEST(b.total_tokens_used == a.total_tokens_used);
      BOOST_TEST(b.total_cost_micro_usd == a.total_cost_micro_usd);
      BOOST_TEST(b.total_retries == a.total_retries);
      BOOST_TEST(b.avg_duration_ms == a.avg_duration_ms);
      BOOST_TEST(b.p95_duration_ms == a.p95_duration_ms);
      BOOST_TEST(b.last_execution_at == a.last_execution_at);
    }
  }
}

BOOST_AUTO_TEST_CASE(validation_names_each_kind_of_bad_input) {
  agent_spec s{"a", "planner"};
  BOOST_TEST(bool(validate(s)));
  s.max_capacity = 0;
  BOOST_TEST((validate(s).error().code == errc::invalid_capacity));
  s.max_capacity = 1;
  s.agent_id = "";
  BOOST_TEST((validate(s).error().code == errc::invalid_argument));
  execution_metrics m;
  m.prompt_tokens = -1;
  BOOST_TEST((validate(m).error().code == errc::invalid_tokens));
  m.prompt_tokens = 2'000'000'000;
  BOOST_TEST((validate(m).error().code == errc::invalid_tokens));
  m.prompt_tokens = 10;
  m.estimated_cost_usd = std::nan("");
  BOOST_TEST((validate(m).error().code == errc::invalid_cost));
  m.estimated_cost_usd = -0.5;
  BOOST_TEST((validate(m).error().code == errc::invalid_cost));
  m.estimated_cost_usd = INFINITY;
  BOOST_TEST((validate(m).error().code == errc::invalid_cost));
  m.estimated_cost_usd = 0.01;
  m.success_score = 1.5;
  BOOST_TEST((validate(m).error().code == errc::invalid_score));
  m.success_score = 1.0;
  BOOST_TEST(bool(validate(m)));
  BOOST_TEST((validate_tool_call("bash", tool_call{"", 0, 0, 1}).error().code == errc::invalid_argument));
  BOOST_TEST((validate_tool_call("", tool_call{"", 1, 0, 1}).error().code == errc::invalid_argument));
  BOOST_TEST(bool(validate_tool_call("bash", tool_call{"", 1, 0, 1})));
}

BOOST_AUTO_TEST_CASE(text_must_be_valid_utf8_without_nul) {
  BOOST_TEST(is_clean_text("plain ascii, tabs\t and newlines\n"));
  BOOST_TEST(is_clean_text("ünïcødé ✓ 𝄞"));
  BOOST_TEST(!is_clean_text(std::string_view{"nul\0inside", 11}));
  BOOST_TEST(!is_clean_text("\xC3"));          // truncated sequence
  BOOST_TEST(!is_clean_text("\xC0\xAF"));      // overlong '/'
  BOOST_TEST(!is_clean_text("\xED\xA0\x80"));  // a UTF-16 surrogate
  BOOST_TEST(!is_clean_text("\xFF"));
  BOOST_TEST(is_clean_text(""));
  BOOST_TEST(is_clean_text("\x7f \x01"));              // control characters are text
  BOOST_TEST(is_clean_text("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the last code point
  BOOST_TEST(!is_clean_text("\xC0\x80"));              // overlong NUL
  BOOST_TEST(!is_clean_text("\xE0\x80\xAF"));          // overlong '/', three bytes
  BOOST_TEST(!is_clean_text("\xF4\x90\x80\x80"));      // above U+10FFFF
  BOOST_TEST(!is_clean_text("\x80"));                  // a lone continuation byte
  agent_spec s{"a\xFF", "planner"};
  BOOST_TEST((validate(s).error().code == errc::invalid_argument));
  s.agent_id = "a";
  s.metadata["k"] = std::string{"v\0", 2};
  BOOST_TEST((validate(s).error().code == errc::invalid_argument));
  execution_metrics m;
  m.error_message = "bad \xC3";
  BOOST_TEST((validate(m).error().code == errc::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
