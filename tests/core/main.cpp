#define BOOST_TEST_MODULE agentreg core
#include <boost/test/unit_test.hpp>
