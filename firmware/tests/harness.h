/*
 * A tiny self-contained test harness. A test is a `void test_NAME(void)` listed in
 * test_list.h; CHECK macros record failures and the test goes on. The run ends with the line
 * "N passed, M failed" (N, M counting tests) and exits non-zero when M > 0.
 */
#ifndef HAPTICS_HARNESS_H
#define HAPTICS_HARNESS_H

#include <stddef.h>
#include <stdint.h>

void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                          \
    do {                                                     \
        if (!(cond)) {                                       \
            harness_fail(__FILE__, __LINE__, "%s", #cond);   \
        }                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);       \
        if (a_ != b_) {                                                                      \
            harness_fail(__FILE__, __LINE__, "%s == %s (0x%llx != 0x%llx)", #a, #b, a_, b_); \
        }                                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double a_ = (double)(a), b_ = (double)(b);                                     \
        if (!(a_ - b_ <= (tol) && b_ - a_ <= (tol))) {                                 \
            harness_fail(__FILE__, __LINE__, "%s ~= %s (%.9g vs %.9g)", #a, #b, a_, b_); \
        }                                                                              \
    } while (0)

/* Path of the shared vectors file (argv[1] of the test binary). */
const char *harness_vectors_path(void);

#endif
