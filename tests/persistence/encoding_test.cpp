#include <boost/test/unit_test.hpp>

#include "core/text.hpp"
#include "persistence/encoding.hpp"

using namespace agentreg::db::detail;
using namespace std::string_literals;

BOOST_AUTO_TEST_SUITE(persistence_encoding)

BOOST_AUTO_TEST_CASE(sanitizing_replaces_each_bad_sequence_with_one_replacement_character) {
  BOOST_TEST(sanitized_text("a\0b"s) == "a\xEF\xBF\xBD" "b");
  BOOST_TEST(sanitized_text("x\xE6\xBCy") == "x\xEF\xBF\xBDy");
  BOOST_TEST(sanitized_text("\xff\xfe") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  BOOST_TEST(sanitized_text("ok é") == "ok é");
  BOOST_TEST(agentreg::core::is_clean_text(sanitized_text("\xC0\x80\xED\xA0\x80\xF4\x90\x80\x80 z")));
}

BOOST_AUTO_TEST_CASE(metadata_becomes_a_json_object_with_escaped_strings) {
  BOOST_TEST(json_object({}) == "{}");
  BOOST_TEST(json_object({{"a", "1"}, {"b", "x\"y\\z\n\t\x01é"}}) ==
             R"({"a":"1","b":"x\"y\\z\n\t\u0001é"})");
}

BOOST_AUTO_TEST_SUITE_END()
