/* SPDX-License-Identifier: Apache-2.0 */
/* Every unit-test suite, one line each: SUITE(name) declares name_suite(). */
SUITE(err)
SUITE(config)
SUITE(bus)
SUITE(pci)
SUITE(memory)
