#include "cobs.h"

size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 1;      /* next output position */
    size_t code_i = 0; /* where the current block's code byte goes */
    uint8_t code = 1;  /* 1 + bytes in the current block */
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0u) {
            out[code_i] = code;
            code_i = o++;
            code = 1;
            continue;
        }
        out[o++] = in[i];
        code++;
        if (code == 0xFFu) {
            out[code_i] = code;
            code = 1;
            if (i + 1u == n) {
                return o; /* a full block ends the data: no trailing code */
            }
            code_i = o++;
        }
    }
    out[code_i] = code;
    return o;
}

long cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0;
    size_t o = 0;
    if (n == 0u) {
        return -1;
    }
    while (i < n) {
        uint8_t code = in[i];
        if (code == 0u || i + code > n) {
            return -1;
        }
        for (size_t k = 1; k < code; k++) {
            if (in[i + k] == 0u || o >= cap) {
                return -1;
            }
            out[o++] = in[i + k];
        }
        i += code;
        if (code != 0xFFu && i < n) {
            if (o >= cap) {
                return -1;
            }
            out[o++] = 0u;
        }
    }
    return (long)o;
}
