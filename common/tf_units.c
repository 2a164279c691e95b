/*  tf_units - human sizes. */
#include "tf_units.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

int
tf_units_parse_int(const char *text, int64_t min, int64_t max, int64_t *value)
{
    if (!text || !(isdigit((unsigned char) text[0]) || (text[0] == '-' && isdigit((unsigned char) text[1]))))
        return -1;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return -1;
    *value = (int64_t) n;
    return 0;
}

int
tf_units_parse_seconds(const char *text, int64_t min_ms, int64_t max_ms, int64_t *ms)
{
    if (!text || !(isdigit((unsigned char) text[0]) || (text[0] == '.' && isdigit((unsigned char) text[1]))))
        return -1;
    char *end = NULL;
    errno = 0;
    double s = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(s) || s * 1000.0 > (double) max_ms
        || s * 1000.0 < (double) min_ms)
        return -1;
    *ms = (int64_t) ceil(s * 1000.0);
    return 0;
}
