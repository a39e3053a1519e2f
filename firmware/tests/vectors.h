/* Reader of firmware/test_vectors/vectors.txt: whitespace-separated tokens per line. */
#ifndef HAPTICS_VECTORS_H
#define HAPTICS_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#define VECTOR_MAX_TOKENS 64

typedef struct {
    int lineno;
    int ntok;
    char *tok[VECTOR_MAX_TOKENS]; /* tok[0] is the kind: crc16, cobs, frame, ... */
} vector_t;

/* Load the file; returns the number of vector lines, or -1 when it cannot be read. */
int vectors_load(const char *path);

/* The i-th vector line (0 <= i < count). */
const vector_t *vectors_get(int i);
int vectors_count(void);

/* Decode hex ("-" is empty) into out; returns the byte count, or -1 on bad hex / too long. */
long hex_decode(const char *hex, uint8_t *out, size_t cap);

#endif
