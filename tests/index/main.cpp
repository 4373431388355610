#define BOOST_TEST_MODULE agentreg index
#include <boost/test/unit_test.hpp>
