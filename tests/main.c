// SPDX-License-Identifier: Apache-2.0
/* Runs every suite listed in suites.h. Usage: unit-tests [suite-name] */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(int argc, char **argv)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define SUITE(name) \
	if (argc < 2 || !strcmp(argv[1], #name)) \
		srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef SUITE
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
