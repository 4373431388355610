#define BOOST_TEST_MODULE agentreg server
#include <boost/test/unit_test.hpp>
