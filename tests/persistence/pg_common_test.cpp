#include <boost/test/unit_test.hpp>

#include "persistence/pg_common.hpp"

using agentreg::db::detail::with_connection_defaults;

namespace {
const std::string tcp = "keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=30000";
const std::string tcp_keywords =
    "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=30000";
}  // namespace

BOOST_AUTO_TEST_SUITE(persistence_url)

BOOST_AUTO_TEST_CASE(a_uri_gets_a_connect_timeout_an_application_name_keepalives_and_a_tcp_user_timeout) {
  BOOST_TEST(with_connection_defaults("postgresql://u@h:5432/db") ==
             "postgresql://u@h:5432/db?connect_timeout=10&application_name=agentreg&" + tcp);
  BOOST_TEST(with_connection_defaults("postgres://h/db?sslmode=disable") ==
             "postgres://h/db?sslmode=disable&connect_timeout=10&application_name=agentreg&" + tcp);
}

BOOST_AUTO_TEST_CASE(keyword_value_strings_get_them_as_keywords) {
  BOOST_TEST(with_connection_defaults("host=h dbname=db") ==
             "host=h dbname=db connect_timeout=10 application_name=agentreg " + tcp_keywords);
  BOOST_TEST(with_connection_defaults("") == "connect_timeout=10 application_name=agentreg " + tcp_keywords);
}

BOOST_AUTO_TEST_CASE(what_the_url_sets_is_kept) {
  BOOST_TEST(with_connection_defaults("postgresql://h/db?connect_timeout=3&application_name=mine&" + tcp) ==
             "postgresql://h/db?connect_timeout=3&application_name=mine&" + tcp);
  BOOST_TEST(with_connection_defaults("host=h connect_timeout=3") ==
             "host=h connect_timeout=3 application_name=agentreg " + tcp_keywords);
}

BOOST_AUTO_TEST_CASE(a_key_that_only_ends_like_a_default_does_not_hide_it) {
  // keepalives_idle=60 sets keepalives_idle, not keepalives.
  BOOST_TEST(with_connection_defaults("host=h keepalives_idle=60") ==
             "host=h keepalives_idle=60 connect_timeout=10 application_name=agentreg keepalives=1 "
             "keepalives_interval=5 keepalives_count=3 tcp_user_timeout=30000");
}

BOOST_AUTO_TEST_SUITE_END()
