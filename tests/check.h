/* Minimal test harness shared by every unit test: CHECK records a failure
 * with its location and carries on; check_done() prints the closing line
 * "N passed, N failed" and returns the exit status. */
#ifndef SIGIL_CHECK_H
#define SIGIL_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            check_pass_++;                                                       \
        } else {                                                                 \
            check_fail_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* Compare an int result (typically a SIGIL_E_* code) with its expected value. */
#define CHECK_EQ(got, want)                                                      \
    do {                                                                         \
        long long g_ = (long long)(got), w_ = (long long)(want);                 \
        if (g_ == w_) {                                                          \
            check_pass_++;                                                       \
        } else {                                                                 \
            check_fail_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, want %lld\n",   \
                    __FILE__, __LINE__, #got, g_, w_);                           \
        }                                                                        \
    } while (0)

/* Abort the test program when a precondition for the rest does not hold. */
#define REQUIRE(cond)                                                            \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(2);                                                             \
        }                                                                        \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
