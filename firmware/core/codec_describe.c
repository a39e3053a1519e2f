/* Host-only part of the codec: a message as "name=value ..." text (tests, emulator logs). */
#include <stdio.h>
#include <string.h>

#include "codec.h"

int codec_describe(const msg_t *m, char *buf, size_t cap)
{
    const msg_def_t *def = codec_def(m->type);
    size_t len = 0;
    if (cap == 0u) {
        return 0;
    }
    buf[0] = '\0';
    if (def == NULL) {
        return 0;
    }
    for (uint8_t i = 0; i < def->n_fields && len + 1u < cap; i++) {
        const field_def_t *f = &def->fields[i];
        const uint8_t *p = (const uint8_t *)m + f->offset;
        const char *sep = i ? " " : "";
        int w;
        switch (f->code) {
        case 'B':
            w = snprintf(buf + len, cap - len, "%s%s=%u", sep, f->name, (unsigned)*p);
            break;
        case 'H': {
            uint16_t v;
            memcpy(&v, p, sizeof v);
            w = snprintf(buf + len, cap - len, "%s%s=%u", sep, f->name, (unsigned)v);
            break;
        }
        case 'I': {
            uint32_t v;
            memcpy(&v, p, sizeof v);
            w = snprintf(buf + len, cap - len, "%s%s=%lu", sep, f->name, (unsigned long)v);
            break;
        }
        case 'Q': {
            uint64_t v;
            memcpy(&v, p, sizeof v);
            w = snprintf(buf + len, cap - len, "%s%s=%llu", sep, f->name, (unsigned long long)v);
            break;
        }
        case 's': {
            static const char hex[] = "0123456789abcdef";
            w = snprintf(buf + len, cap - len, "%s%s=", sep, f->name);
            for (uint8_t k = 0; k < f->len && w >= 0 && len + (size_t)w + 2u < cap; k++) {
                buf[len + (size_t)w] = hex[p[k] >> 4];
                buf[len + (size_t)w + 1u] = hex[p[k] & 0xFu];
                w += 2;
            }
            if (w >= 0 && len + (size_t)w < cap) {
                buf[len + (size_t)w] = '\0';
            }
            break;
        }
        default: {
            float v;
            memcpy(&v, p, sizeof v);
            w = snprintf(buf + len, cap - len, "%s%s=%.9g", sep, f->name, (double)v);
            break;
        }
        }
        if (w < 0) {
            break;
        }
        len += (size_t)w;
        if (len >= cap) {
            len = cap - 1u;
        }
    }
    return (int)len;
}
