#include <boost/test/unit_test.hpp>

#include "persistence/text.hpp"

using namespace agentreg::db::detail;
using namespace std::string_literals;

BOOST_AUTO_TEST_SUITE(persistence_text)

BOOST_AUTO_TEST_CASE(well_formed_utf8_without_nul_is_storable) {
  BOOST_TEST(storable_text(""));
  BOOST_TEST(storable_text("tab\there\nnew \"quotes\" 'single' back\\slash"));
  BOOST_TEST(storable_text("é 漢字 🚀 \x7f \x01"));
  BOOST_TEST(storable_text("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
}

BOOST_AUTO_TEST_CASE(nul_bytes_and_ill_formed_utf8_are_not_storable) {
  BOOST_TEST(!storable_text("a\0b"s));
  BOOST_TEST(!storable_text("\xff"));
  BOOST_TEST(!storable_text("\xC0\x80"));          // overlong NUL
  BOOST_TEST(!storable_text("\xE0\x80\xAF"));      // overlong '/'
  BOOST_TEST(!storable_text("\xED\xA0\x80"));      // a UTF-16 surrogate
  BOOST_TEST(!storable_text("\xF4\x90\x80\x80"));  // above U+10FFFF
  BOOST_TEST(!storable_text("\xE6\xBC"));          // truncated
  BOOST_TEST(!storable_text("\x80"));              // a lone continuation byte
}

BOOST_AUTO_TEST_CASE(sanitizing_replaces_each_bad_sequence_with_one_replacement_character) {
  BOOST_TEST(sanitized_text("a\0b"s) == "a\xEF\xBF\xBD" "b");
  BOOST_TEST(sanitized_text("x\xE6\xBCy") == "x\xEF\xBF\xBDy");
  BOOST_TEST(sanitized_text("\xff\xfe") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  BOOST_TEST(sanitized_text("ok é") == "ok é");
  BOOST_TEST(storable_text(sanitized_text("\xC0\x80\xED\xA0\x80\xF4\x90\x80\x80 z")));
}

BOOST_AUTO_TEST_CASE(metadata_becomes_a_json_object_with_escaped_strings) {
  BOOST_TEST(json_object({}) == "{}");
  BOOST_TEST(json_object({{"a", "1"}, {"b", "x\"y\\z\n\t\x01é"}}) ==
             R"({"a":"1","b":"x\"y\\z\n\t\u0001é"})");
}

BOOST_AUTO_TEST_SUITE_END()
