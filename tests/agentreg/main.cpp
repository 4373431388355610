#define BOOST_TEST_MODULE agentreg registry
#include <boost/test/unit_test.hpp>
