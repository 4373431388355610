#include <boost/test/unit_test.hpp>

#include "persistence/pg_common.hpp"

using agentreg::db::detail::with_connection_defaults;

BOOST_AUTO_TEST_SUITE(persistence_url)

BOOST_AUTO_TEST_CASE(a_uri_gets_a_connect_timeout_and_an_application_name) {
  BOOST_TEST(with_connection_defaults("postgresql://u@h:5432/db") ==
             "postgresql://u@h:5432/db?connect_timeout=10&application_name=agentreg");
  BOOST_TEST(with_connection_defaults("postgres://h/db?sslmode=disable") ==
             "postgres://h/db?sslmode=disable&connect_timeout=10&application_name=agentreg");
}

BOOST_AUTO_TEST_CASE(keyword_value_strings_get_them_as_keywords) {
  BOOST_TEST(with_connection_defaults("host=h dbname=db") == "host=h dbname=db connect_timeout=10 application_name=agentreg");
  BOOST_TEST(with_connection_defaults("") == "connect_timeout=10 application_name=agentreg");
}

BOOST_AUTO_TEST_CASE(what_the_url_sets_is_kept) {
  BOOST_TEST(with_connection_defaults("postgresql://h/db?connect_timeout=3&application_name=mine") ==
             "postgresql://h/db?connect_timeout=3&application_name=mine");
  BOOST_TEST(with_connection_defaults("host=h connect_timeout=3") == "host=h connect_timeout=3 application_name=agentreg");
}

BOOST_AUTO_TEST_SUITE_END()
