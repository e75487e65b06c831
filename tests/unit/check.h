/* The unit tests' one assertion: count a pass, or count a failure and say where. */
#ifndef MUXSHIM_TEST_CHECK_H
#define MUXSHIM_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

/* CHECK(cond, fmt, ...): on failure prints "FAIL file:line: message". */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#endif
