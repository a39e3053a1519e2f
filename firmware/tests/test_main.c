#include <stdarg.h>
#include <stdio.h>

#include "harness.h"
#include "test_list.h"
#include "vectors.h"

#define DECLARE(name) void test_##name(void);
TEST_LIST(DECLARE)

typedef struct {
    const char *name;
    void (*fn)(void);
} test_case_t;

#define ENTRY(name) {#name, test_##name},
static const test_case_t cases[] = {TEST_LIST(ENTRY)};

static int current_failures;
static const char *vectors_path = "test_vectors/vectors.txt";

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: check failed: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    current_failures++;
}

const char *harness_vectors_path(void)
{
    return vectors_path;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        vectors_path = argv[1];
    }
    if (vectors_load(vectors_path) <= 0) {
        fprintf(stderr, "cannot read test vectors from %s\n", vectors_path);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        current_failures = 0;
        cases[i].fn();
        if (current_failures) {
            failed++;
            fprintf(stderr, "FAIL %s\n", cases[i].name);
        } else {
            passed++;
            printf("ok   %s\n", cases[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
