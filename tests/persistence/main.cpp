#define BOOST_TEST_MODULE agentreg persistence
#include <boost/test/unit_test.hpp>
