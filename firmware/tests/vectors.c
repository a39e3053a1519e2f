#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VECTORS 512
#define MAX_LINE 16384

static vector_t vecs[MAX_VECTORS];
static char *lines[MAX_VECTORS];
static int nvec;

int vectors_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    static char buf[MAX_LINE];
    int lineno = 0;
    nvec = 0;
    while (fgets(buf, sizeof buf, f) != NULL && nvec < MAX_VECTORS) {
        lineno++;
        char *p = buf;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') {
            continue;
        }
        char *copy = malloc(strlen(p) + 1u);
        if (copy == NULL) {
            fclose(f);
            return -1;
        }
        strcpy(copy, p);
        lines[nvec] = copy;
        vector_t *v = &vecs[nvec];
        v->lineno = lineno;
        v->ntok = 0;
        for (char *t = strtok(copy, " \t\r\n"); t != NULL && v->ntok < VECTOR_MAX_TOKENS;
             t = strtok(NULL, " \t\r\n")) {
            v->tok[v->ntok++] = t;
        }
        nvec++;
    }
    fclose(f);
    return nvec;
}

const vector_t *vectors_get(int i)
{
    return &vecs[i];
}

int vectors_count(void)
{
    return nvec;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    if (strcmp(hex, "-") == 0) {
        return 0;
    }
    size_t n = strlen(hex);
    if (n % 2u != 0u || n / 2u > cap) {
        return -1;
    }
    for (size_t i = 0; i < n / 2u; i++) {
        int hi = nibble(hex[2u * i]);
        int lo = nibble(hex[2u * i + 1u]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2u);
}
