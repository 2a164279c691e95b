/*  tf_units - human sizes. */
#include "tf_units.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

const char *
tf_units_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%" PRIu64 " B", bytes);
        return buf;
    }
    double v = (double) bytes;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}

int
tf_units_parse_size(const char *text, uint64_t *bytes)
{
    char *end = NULL;
    if (!text || *text < '0' || *text > '9')
        return -1;
    unsigned long long n = strtoull(text, &end, 10);
    int shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return -1;
    }
    if (*end == 'i')
        end++;
    if (*end == 'B')
        end++;
    if (*end != '\0' || (shift && n > (UINT64_MAX >> shift)))
        return -1;
    *bytes = (uint64_t) n << shift;
    return 0;
}
