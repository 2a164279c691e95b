/*  tf_calendar - calendar expressions and time zones (see tf_calendar.h).

    Zones are read from TZif files (RFC 8536) by this file alone: the 64-bit section of a v2+
    file (the 32-bit one of a v1 file), and the POSIX TZ rule of the footer for instants after
    the last transition (Debian ships "slim" files whose transitions stop early). Nothing
    process-wide (TZ, tzset, localtime) is used, so zones of several schedules coexist.

    Leap-second records ("right/" zones) are skipped: their instants would be off by the leap
    seconds, which no schedule needs.
*/
#include "tf_calendar.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TF_ZONEINFO_DIR "/usr/share/zoneinfo"
#define TF_LOCALTIME_FILE "/etc/localtime"
#define TF_TZIF_MAX (1024 * 1024)   /* real zone files are a few KiB */
#define TF_ABBR_MAX 16
#define DAY_S 86400
#define YEAR_MIN 1970               /* the year range systemd accepts */
#define YEAR_MAX 2199
#define SEARCH_DAYS (8 * 366)       /* tf_calendar_next gives up after 8 years */

/* --- civil dates (proleptic Gregorian, days since 1970-01-01) ------------------------------- */

static int64_t
s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* H. Hinnant's days_from_civil: exact for every year, no tables. */
static int64_t
s_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = s_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
s_civil_from_days(int64_t z, int64_t *year, int *month, int *day)
{
    z += 719468;
    int64_t era = s_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int) (doy - (153 * mp + 2) / 5 + 1);
    int m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

/* 0 = Sunday (POSIX rules count so); 1970-01-01 was a Thursday. */
static int
s_weekday_sun0(int64_t days)
{
    return (int) (days - s_floor_div(days + 4, 7) * 7 + 4) % 7;
}

static bool
s_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
s_month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_is_leap(y) ? 29 : days[m - 1];
}

/* --- time zones ------------------------------------------------------------------------------ */

typedef struct {
    int32_t utoff;      /* seconds east of UTC */
    uint8_t abbr;       /* index into abbrs */
} s_ttinfo_t;

/* A POSIX TZ date rule: Jn, n or Mm.w.d, and the local time of day it switches at. */
typedef struct {
    char kind;          /* 'J', 'D' (zero-based day of year) or 'M' */
    int n, month, week, wday;
    int32_t time;       /* seconds, may be negative or past 24h (RFC 8536 extension) */
} s_rule_date_t;

typedef struct {
    bool present;
    char std_abbr[TF_ABBR_MAX], dst_abbr[TF_ABBR_MAX];
    int32_t std_off, dst_off;   /* seconds east of UTC */
    bool has_dst;
    s_rule_date_t start, end;
} s_footer_t;

struct _tf_tz_t {
    char *name;
    size_t timecnt, typecnt;
    int64_t *trans;     /* transition instants, ascending */
    uint8_t *trans_type;
    s_ttinfo_t *types;
    char *abbrs;        /* charcnt bytes plus a final NUL */
    size_t charcnt;
    s_footer_t footer;
};

static uint32_t
s_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t
s_be64(const unsigned char *p)
{
    return (int64_t) ((uint64_t) s_be32(p) << 32 | s_be32(p + 4));
}

/* POSIX TZ pieces. Each s_posix_* advances *p and returns false on malformed text. */
static bool
s_posix_abbr(const char **p, char *out)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while (*s && *s != '>' && n + 1 < TF_ABBR_MAX)
            out[n++] = *s++;
        if (*s != '>')
            return false;
        s++;
    }
    else
        while (isalpha((unsigned char) *s) && n + 1 < TF_ABBR_MAX)
            out[n++] = *s++;
    out[n] = '\0';
    *p = s;
    return n >= 1;
}

/* [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536 allows it in rule times). */
static bool
s_posix_seconds(const char **p, int32_t *seconds)
{
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char) *s))
        return false;
    int32_t parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        int v = 0, digits = 0;
        while (isdigit((unsigned char) *s) && digits < 3)
            v = v * 10 + (*s++ - '0'), digits++;
        if (digits == 0 || (i == 0 ? v > 167 : v > 59))
            return false;
        parts[i] = v;
        if (*s != ':' || i == 2)
            break;
        s++;
    }
    *seconds = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    *p = s;
    return true;
}

static bool
s_posix_int(const char **p, int min, int max, int *value)
{
    const char *s = *p;
    int v = 0, digits = 0;
    while (isdigit((unsigned char) *s) && digits < 4)
        v = v * 10 + (*s++ - '0'), digits++;
    if (digits == 0 || v < min || v > max)
        return false;
    *value = v;
    *p = s;
    return true;
}

static bool
s_posix_rule_date(const char **p, s_rule_date_t *rule)
{
    const char *s = *p;
    memset(rule, 0, sizeof *rule);
    rule->time = 2 * 3600;      /* POSIX default 02:00 */
    if (*s == 'J') {
        s++;
        rule->kind = 'J';
        if (!s_posix_int(&s, 1, 365, &rule->n))
            return false;
    }
    else if (*s == 'M') {
        s++;
        rule->kind = 'M';
        if (!s_posix_int(&s, 1, 12, &rule->month) || *s++ != '.' || !s_posix_int(&s, 1, 5, &rule->week)
            || *s++ != '.' || !s_posix_int(&s, 0, 6, &rule->wday))
            return false;
    }
    else {
        rule->kind = 'D';
        if (!s_posix_int(&s, 0, 365, &rule->n))
            return false;
    }
    if (*s == '/') {
        s++;
        if (!s_posix_seconds(&s, &rule->time))
            return false;
    }
    *p = s;
    return true;
}

static bool
s_posix_parse(const char *text, s_footer_t *footer)
{
    const char *p = text;
    int32_t posix_off;
    memset(footer, 0, sizeof *footer);
    if (!s_posix_abbr(&p, footer->std_abbr) || !s_posix_seconds(&p, &posix_off))
        return false;
    footer->std_off = -posix_off;   /* POSIX counts west of UTC */
    footer->dst_off = footer->std_off;
    if (*p) {
        footer->has_dst = true;
        if (!s_posix_abbr(&p, footer->dst_abbr))
            return false;
        footer->dst_off = footer->std_off + 3600;
        if (*p && *p != ',') {
            if (!s_posix_seconds(&p, &posix_off))
                return false;
            footer->dst_off = -posix_off;
        }
        if (*p == ',') {
            p++;
            if (!s_posix_rule_date(&p, &footer->start) || *p++ != ','
                || !s_posix_rule_date(&p, &footer->end))
                return false;
        }
        else {
            /* No rule: POSIX leaves it to the implementation; tzcode uses the US rules. */
            footer->start = (s_rule_date_t) {'M', 0, 3, 2, 0, 7200};
            footer->end = (s_rule_date_t) {'M', 0, 11, 1, 0, 7200};
        }
    }
    footer->present = true;
    return *p == '\0';
}

/* Local midnight (days since the epoch) of a rule's date in year y. */
static int64_t
s_rule_day(const s_rule_date_t *rule, int64_t y)
{
    int64_t jan1 = s_days_from_civil(y, 1, 1);
    if (rule->kind == 'J')      /* 1..365, February 29 never counted */
        return jan1 + rule->n - 1 + (s_is_leap(y) && rule->n >= 60);
    if (rule->kind == 'D')
        return jan1 + rule->n;
    int64_t first = s_days_from_civil(y, rule->month, 1);
    int64_t day = first + (rule->wday - s_weekday_sun0(first) + 7) % 7 + 7 * (rule->week - 1);
    while (day >= first + s_month_days(y, rule->month))
        day -= 7;               /* week 5 = the last such weekday */
    return day;
}

static void
s_footer_offset(const s_footer_t *footer, int64_t t, int32_t *utoff, const char **abbr)
{
    bool dst = false;
    if (footer->has_dst) {
        int64_t y;
        int month, day;
        s_civil_from_days(s_floor_div(t + footer->std_off, DAY_S), &y, &month, &day);
        /* The start is given in standard time, the end in daylight time. */
        int64_t start = s_rule_day(&footer->start, y) * DAY_S + footer->start.time - footer->std_off;
        int64_t end = s_rule_day(&footer->end, y) * DAY_S + footer->end.time - footer->dst_off;
        dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    }
    *utoff = dst ? footer->dst_off : footer->std_off;
    if (abbr)
        *abbr = dst ? footer->dst_abbr : footer->std_abbr;
}

/* Offset east of UTC at instant t (seconds). */
static int32_t
s_offset_at(const tf_tz_t *self, int64_t t, const char **abbr)
{
    int32_t utoff;
    if (self->footer.present && (self->timecnt == 0 || t >= self->trans[self->timecnt - 1])) {
        s_footer_offset(&self->footer, t, &utoff, abbr);
        return utoff;
    }
    size_t type = 0;            /* before the first transition: type 0 (RFC 8536 3.2) */
    if (self->timecnt > 0 && t >= self->trans[0]) {
        size_t lo = 0, hi = self->timecnt;     /* the last transition <= t */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (self->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        type = self->trans_type[lo];
    }
    if (abbr)
        *abbr = self->abbrs + self->types[type].abbr;
    return self->types[type].utoff;
}

/* The instant of a local time (seconds since the epoch as if it were UTC): the instant when it
   exists once, the earlier one when it exists twice, the moment the clocks jump when it falls
   in a gap. Assumes at most one transition within a day of it (true of every real zone). */
static int64_t
s_local_to_utc(const tf_tz_t *self, int64_t local)
{
    int32_t before = s_offset_at(self, local - DAY_S, NULL);
    int32_t after = s_offset_at(self, local + DAY_S, NULL);
    int64_t best = INT64_MAX;
    if (s_offset_at(self, local - before, NULL) == before)
        best = local - before;
    if (after != before && s_offset_at(self, local - after, NULL) == after && local - after < best)
        best = local - after;
    if (best != INT64_MAX)
        return best;
    if (after <= before)
        return local - before;  /* not a single gap: several transitions, keep the old offset */
    /* A gap: the clocks jumped from before to after somewhere in (local - after, local - before]. */
    int64_t lo = local - after, hi = local - before;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s_offset_at(self, mid, NULL) == before)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

static int
s_tzif_parse(tf_tz_t *self, const unsigned char *data, size_t size, const char *path, tf_err_t *err)
{
    const unsigned char *p = data, *end = data + size;
    int version = 0;
    for (int pass = 0; pass < 2; pass++) {
        if ((size_t) (end - p) < 44 || memcmp(p, "TZif", 4) != 0)
            return tf_err_set(err, TF_ERR_INVALID, "%s is not a time zone file (no TZif header)", path);
        version = p[4] ? p[4] - '0' : 1;
        uint32_t isutcnt = s_be32(p + 20), isstdcnt = s_be32(p + 24), leapcnt = s_be32(p + 28);
        uint32_t timecnt = s_be32(p + 32), typecnt = s_be32(p + 36), charcnt = s_be32(p + 40);
        size_t tsize = pass == 0 ? 4 : 8;
        p += 44;
        uint64_t block = (uint64_t) timecnt * tsize + timecnt + (uint64_t) typecnt * 6 + charcnt
                         + (uint64_t) leapcnt * (tsize + 4) + isstdcnt + isutcnt;
        if (block > (uint64_t) (end - p) || typecnt == 0 || typecnt > 256 || charcnt == 0)
            return tf_err_set(err, TF_ERR_INVALID, "%s: damaged time zone file (counts do not fit "
                              "the file; reinstall tzdata)", path);
        if (pass == 0 && version >= 2) {
            p += block;         /* the v1 32-bit data is superseded by the 64-bit section */
            continue;
        }
        self->timecnt = timecnt;
        self->typecnt = typecnt;
        self->charcnt = charcnt;
        self->trans = calloc(timecnt ? timecnt : 1, sizeof *self->trans);
        self->trans_type = calloc(timecnt ? timecnt : 1, 1);
        self->types = calloc(typecnt, sizeof *self->types);
        self->abbrs = calloc(charcnt + 1, 1);
        if (!self->trans || !self->trans_type || !self->types || !self->abbrs)
            return tf_err_set(err, TF_ERR_NOMEM, "%s: out of memory", path);
        for (uint32_t i = 0; i < timecnt; i++, p += tsize) {
            self->trans[i] = tsize == 4 ? (int64_t) (int32_t) s_be32(p) : s_be64(p);
            if (i > 0 && self->trans[i] <= self->trans[i - 1])
                return tf_err_set(err, TF_ERR_INVALID, "%s: damaged time zone file (transitions "
                                  "out of order; reinstall tzdata)", path);
        }
        for (uint32_t i = 0; i < timecnt; i++, p++) {
            if (*p >= typecnt)
                return tf_err_set(err, TF_ERR_INVALID, "%s: damaged time zone file (bad type "
                                  "index; reinstall tzdata)", path);
            self->trans_type[i] = *p;
        }
        for (uint32_t i = 0; i < typecnt; i++, p += 6) {
            self->types[i].utoff = (int32_t) s_be32(p);
            if (p[5] >= charcnt)
                return tf_err_set(err, TF_ERR_INVALID, "%s: damaged time zone file (bad "
                                  "abbreviation index; reinstall tzdata)", path);
            self->types[i].abbr = p[5];
        }
        memcpy(self->abbrs, p, charcnt);
        p += charcnt + (uint64_t) leapcnt * (tsize + 4) + isstdcnt + isutcnt;
        break;
    }
    if (version < 2)
        return TF_OK;
    /* Footer: "\n" POSIX-TZ "\n"; empty when the last transition holds for ever. */
    if (p >= end || *p != '\n')
        return tf_err_set(err, TF_ERR_INVALID, "%s: damaged time zone file (no footer; reinstall "
                          "tzdata)", path);
    const unsigned char *nl = memchr(p + 1, '\n', (size_t) (end - p - 1));
    if (!nl)
        return tf_err_set(err, TF_ERR_INVALID, "%s: damaged time zone file (unterminated footer; "
                          "reinstall tzdata)", path);
    size_t len = (size_t) (nl - p - 1);
    if (len == 0)
        return TF_OK;
    char rule[128];
    if (len >= sizeof rule)
        return tf_err_set(err, TF_ERR_INVALID, "%s: time zone rule longer than %zu characters",
                          path, sizeof rule - 1);
    memcpy(rule, p + 1, len);
    rule[len] = '\0';
    if (!s_posix_parse(rule, &self->footer))
        return tf_err_set(err, TF_ERR_INVALID, "%s: cannot read its time zone rule '%s'", path, rule);
    return TF_OK;
}

static int
s_read_file(const char *path, unsigned char **data, size_t *size, tf_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tf_err_errno(err, errno == ENOENT ? TF_ERR_NOTFOUND : TF_ERR_IO, errno, "%s", path);
    unsigned char *buf = malloc(TF_TZIF_MAX);
    if (!buf) {
        fclose(f);
        return tf_err_set(err, TF_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, TF_TZIF_MAX, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n == TF_TZIF_MAX) {
        free(buf);
        return tf_err_set(err, TF_ERR_INVALID, "%s is not a time zone file (%s)", path,
                          failed ? "cannot read it: is it a folder?" : "larger than 1 MiB");
    }
    *data = buf;
    *size = n;
    return TF_OK;
}

static bool
s_tz_name_valid(const char *name)
{
    if (name[0] == '/' || strstr(name, ".."))
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char) *c) && !strchr("_+-/", *c))
            return false;
    return true;
}

/* The machine's zone name from /etc/localtime -> .../zoneinfo/NAME, else "localtime". */
static char *
s_localtime_name(void)
{
    char target[PATH_MAX];
    ssize_t n = readlink(TF_LOCALTIME_FILE, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        const char *at = strstr(target, "zoneinfo/");
        if (at && s_tz_name_valid(at + 9) && at[9])
            return strdup(at + 9);
    }
    return strdup("localtime");
}

tf_tz_t *
tf_tz_new(const char *name, tf_err_t *err)
{
    tf_tz_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "time zone: out of memory");
        return NULL;
    }
    char path[PATH_MAX];
    bool machine = !name || !*name;
    if (machine) {
        self->name = s_localtime_name();
        snprintf(path, sizeof path, "%s", TF_LOCALTIME_FILE);
    }
    else {
        if (!s_tz_name_valid(name)) {
            tf_err_set(err, TF_ERR_INVALID, "time zone '%s' is not a zone name (letters, digits, "
                       "'_', '+', '-' and '/', like Europe/Berlin; see timedatectl list-timezones)",
                       name);
            tf_tz_destroy(&self);
            return NULL;
        }
        self->name = strdup(name);
        const char *dir = getenv("TZDIR");
        int len = snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : TF_ZONEINFO_DIR, name);
        if (len < 0 || (size_t) len >= sizeof path) {
            tf_err_set(err, TF_ERR_TOOBIG, "time zone '%s': name too long", name);
            tf_tz_destroy(&self);
            return NULL;
        }
    }
    if (!self->name) {
        tf_err_set(err, TF_ERR_NOMEM, "time zone: out of memory");
        tf_tz_destroy(&self);
        return NULL;
    }
    unsigned char *data = NULL;
    size_t size = 0;
    tf_err_t read_err = {0};
    int rc = s_read_file(path, &data, &size, &read_err);
    if (rc == TF_ERR_NOTFOUND && machine) {
        /* No /etc/localtime: the machine runs on UTC. */
        free(self->name);
        self->name = strdup("UTC");
        self->footer = (s_footer_t) {.present = true, .std_abbr = "UTC"};
        if (!self->name) {
            tf_err_set(err, TF_ERR_NOMEM, "time zone: out of memory");
            tf_tz_destroy(&self);
        }
        return self;
    }
    if (rc == TF_ERR_NOTFOUND)
        tf_err_set(err, TF_ERR_NOTFOUND, "unknown time zone '%s' (no %s; see timedatectl "
                   "list-timezones)", name, path);
    else if (rc != TF_OK)
        tf_err_set(err, rc, "time zone '%s': %s", self->name, read_err.message);
    else {
        rc = s_tzif_parse(self, data, size, path, &read_err);
        if (rc != TF_OK)
            tf_err_set(err, rc, "time zone '%s': %s", self->name, read_err.message);
    }
    free(data);
    if (rc != TF_OK)
        tf_tz_destroy(&self);
    return self;
}

void
tf_tz_destroy(tf_tz_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_tz_t *self = *self_p;
    free(self->name);
    free(self->trans);
    free(self->trans_type);
    free(self->types);
    free(self->abbrs);
    free(self);
    *self_p = NULL;
}

const char *
tf_tz_name(const tf_tz_t *self)
{
    return self->name;
}

int
tf_tz_offset(const tf_tz_t *self, int64_t utc_ms, int32_t *offset_s, const char **abbr)
{
    int32_t off = s_offset_at(self, s_floor_div(utc_ms, 1000), abbr);
    if (offset_s)
        *offset_s = off;
    return TF_OK;
}

static void
s_format_seconds(int64_t seconds, char *buf, size_t size, const char *suffix, char sep)
{
    int64_t days = s_floor_div(seconds, DAY_S), tod = seconds - days * DAY_S;
    int64_t y;
    int m, d;
    s_civil_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04" PRId64 "-%02d-%02d%c%02d:%02d:%02d%s", y, m, d, sep, (int) (tod / 3600),
             (int) (tod / 60 % 60), (int) (tod % 60), suffix);
}

void
tf_tz_format(const tf_tz_t *self, int64_t utc_ms, char *buf, size_t size)
{
    const char *abbr = NULL;
    int64_t t = s_floor_div(utc_ms, 1000);
    int32_t off = s_offset_at(self, t, &abbr);
    char suffix[TF_ABBR_MAX + 2];
    snprintf(suffix, sizeof suffix, " %s", abbr ? abbr : "");
    s_format_seconds(t + off, buf, size, suffix, ' ');
}

void
tf_time_format_utc(int64_t utc_ms, char *buf, size_t size)
{
    s_format_seconds(s_floor_div(utc_ms, 1000), buf, size, "Z", 'T');
}

/* --- calendar expressions -------------------------------------------------------------------- */

/* A field's allowed values as bits over min..max (years 1970..2199 need 230 bits). */
typedef struct {
    uint64_t bits[4];
} s_set_t;

struct _tf_calendar_t {
    char *text;
    s_set_t weekdays;   /* 0 = Monday */
    s_set_t years, months, days, hours, minutes, seconds;
};

static void
s_set_add(s_set_t *set, int offset)
{
    set->bits[offset / 64] |= (uint64_t) 1 << (offset % 64);
}

static bool
s_set_has(const s_set_t *set, int offset)
{
    return offset >= 0 && offset < 256 && (set->bits[offset / 64] >> (offset % 64) & 1);
}

static void
s_set_range(s_set_t *set, int lo, int hi, int step)
{
    memset(set, 0, sizeof *set);
    for (int v = lo; v <= hi; v += step)
        s_set_add(set, v);
}

static const char *const s_weekday_names[] = {"monday", "tuesday", "wednesday", "thursday",
                                              "friday", "saturday", "sunday"};

/* "Mon" or "Monday", any case; -1 when neither. */
static int
s_weekday_lookup(const char *text, size_t len)
{
    for (int i = 0; i < 7; i++)
        if ((len == 3 || len == strlen(s_weekday_names[i]))
            && strncasecmp(text, s_weekday_names[i], len) == 0)
            return i;
    return -1;
}

static int
s_weekdays_unreadable(const char *expr, const char *text, tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': cannot read weekdays '%s' (write Mon, "
                      "Sat,Sun or Mon..Fri)", expr, text);
}

static int
s_parse_weekdays(const char *expr, const char *text, s_set_t *set, tf_err_t *err)
{
    memset(set, 0, sizeof *set);
    const char *p = text;
    while (true) {
        int range[2];
        int ends = 0;
        while (ends < 2) {
            size_t len = 0;
            while (isalpha((unsigned char) p[len]))
                len++;
            int wd = len ? s_weekday_lookup(p, len) : -1;
            if (wd < 0 && len)
                return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': unknown weekday '%.*s' (use "
                                  "Mon Tue Wed Thu Fri Sat Sun)", expr, (int) len, p);
            if (wd < 0)
                return s_weekdays_unreadable(expr, text, err);
            range[ends++] = wd;
            p += len;
            if (strncmp(p, "..", 2) != 0 || ends == 2)
                break;
            p += 2;
        }
        if (ends == 1)
            range[1] = range[0];
        /* "Sat..Mon" wraps over the end of the week. */
        for (int wd = range[0];; wd = (wd + 1) % 7) {
            s_set_add(set, wd);
            if (wd == range[1])
                break;
        }
        if (*p == '\0')
            return TF_OK;
        if (*p != ',')
            return s_weekdays_unreadable(expr, text, err);
        p++;
    }
}

static bool
s_parse_number(const char **p, int *value)
{
    const char *s = *p;
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char) *s)) {
        v = v * 10 + (*s++ - '0');
        if (++digits > 4)
            return false;
    }
    if (digits == 0)
        return false;
    *value = (int) v;
    *p = s;
    return true;
}

/* One numeric field: *, N, N..M, N/S, N..M/S, * with /S, and lists of them with ','. */
static int
s_parse_field(const char *expr, const char *part, const char *text, size_t len, int min, int max,
              s_set_t *set, tf_err_t *err)
{
    memset(set, 0, sizeof *set);
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': %s '%.*s' cannot be read (use *, N, "
                          "N..M, N/STEP or lists with ',')", expr, part, (int) len, text);
    memcpy(buf, text, len);
    buf[len] = '\0';
    const char *p = buf;
    while (true) {
        int lo = min, hi = max, step = 1;
        bool ok = true;
        if (*p == '*')
            p++;
        else {
            ok = s_parse_number(&p, &lo);
            hi = lo;
            if (ok && strncmp(p, "..", 2) == 0) {
                p += 2;
                ok = s_parse_number(&p, &hi);
            }
            else if (ok && *p == '/')
                hi = max;       /* N/S: N, N+S, ... up to the field's end */
        }
        if (ok && *p == '/') {
            p++;
            ok = s_parse_number(&p, &step) && step >= 1;
        }
        if (!ok || (*p != ',' && *p != '\0'))
            return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': %s '%s' cannot be read (use *, "
                              "N, N..M, N/STEP or lists with ',')", expr, part, buf);
        if (lo < min || lo > max || hi < min || hi > max)
            return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': %s %d out of range %d..%d", expr,
                              part, lo < min || lo > max ? lo : hi, min, max);
        if (hi < lo)
            return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': %s range %d..%d runs backwards",
                              expr, part, lo, hi);
        for (int v = lo; v <= hi; v += step)
            s_set_add(set, v - min);
        if (*p == '\0')
            return TF_OK;
        p++;
    }
}

/* Splits text at sep into exactly 2 or 3 pieces (fields[i], lens[i]); returns the count or -1. */
static int
s_split(const char *text, char sep, const char *fields[3], size_t lens[3])
{
    int n = 0;
    const char *p = text;
    while (n < 3) {
        const char *next = strchr(p, sep);
        fields[n] = p;
        lens[n] = next ? (size_t) (next - p) : strlen(p);
        n++;
        if (!next)
            return n >= 2 ? n : -1;
        p = next + 1;
    }
    return -1;
}

static int
s_parse_date(tf_calendar_t *self, const char *expr, const char *text, tf_err_t *err)
{
    const char *f[3];
    size_t len[3];
    int n = s_split(text, '-', f, len);
    if (n < 0)
        return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': date '%s' cannot be read (write "
                          "YEAR-MONTH-DAY like *-*-01 or 2026-12-24)", expr, text);
    int first = 0;
    if (n == 3) {
        int rc = s_parse_field(expr, "year", f[0], len[0], YEAR_MIN, YEAR_MAX, &self->years, err);
        if (rc != TF_OK)
            return rc;
        first = 1;
    }
    int rc = s_parse_field(expr, "month", f[first], len[first], 1, 12, &self->months, err);
    if (rc == TF_OK)
        rc = s_parse_field(expr, "day", f[first + 1], len[first + 1], 1, 31, &self->days, err);
    return rc;
}

static int
s_parse_time(tf_calendar_t *self, const char *expr, const char *text, tf_err_t *err)
{
    const char *f[3];
    size_t len[3];
    int n = s_split(text, ':', f, len);
    if (n < 0)
        return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': time '%s' cannot be read (write "
                          "HOUR:MINUTE[:SECOND] like 04:00 or *:0/15)", expr, text);
    int rc = s_parse_field(expr, "hour", f[0], len[0], 0, 23, &self->hours, err);
    if (rc == TF_OK)
        rc = s_parse_field(expr, "minute", f[1], len[1], 0, 59, &self->minutes, err);
    if (rc == TF_OK && n == 3)
        rc = s_parse_field(expr, "second", f[2], len[2], 0, 59, &self->seconds, err);
    else if (rc == TF_OK)
        s_set_range(&self->seconds, 0, 0, 1);
    return rc;
}

/* The shorthands as the expressions they stand for; a time after them replaces theirs. */
static const struct {
    const char *name, *weekday, *date, *time;
} s_shorthands[] = {
    {"minutely", NULL, "*-*-*", "*:*:00"},
    {"hourly", NULL, "*-*-*", "*:00:00"},
    {"daily", NULL, "*-*-*", "00:00:00"},
    {"weekly", "Mon", "*-*-*", "00:00:00"},
    {"monthly", NULL, "*-*-01", "00:00:00"},
    {"yearly", NULL, "*-01-01", "00:00:00"},
    {"annually", NULL, "*-01-01", "00:00:00"},
};

static int
s_calendar_parse(tf_calendar_t *self, const char *expr, tf_err_t *err)
{
    char buf[256];
    if (strlen(expr) >= sizeof buf)
        return tf_err_set(err, TF_ERR_TOOBIG, "calendar '%.40s...': longer than %zu characters",
                          expr, sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", expr);
    char *tokens[4];
    int count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (count == 3)
            return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': too many parts (write [WEEKDAYS] "
                              "[YEAR-MONTH-DAY] [HOUR:MINUTE[:SECOND]], e.g. 'Mon..Fri 22:30')", expr);
        tokens[count++] = tok;
    }
    if (count == 0)
        return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': empty (write e.g. 'daily 04:00' or "
                          "'Mon..Fri 22:30')", expr);
    const char *weekday = NULL, *date = NULL, *time = NULL;
    int next = 0;
    for (size_t i = 0; i < sizeof s_shorthands / sizeof s_shorthands[0]; i++)
        if (strcasecmp(tokens[0], s_shorthands[i].name) == 0) {
            weekday = s_shorthands[i].weekday;
            date = s_shorthands[i].date;
            time = s_shorthands[i].time;
            next = 1;
            if (count == 2 && strchr(tokens[1], ':'))
                time = tokens[next++];
            if (next != count)
                return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': '%s' can only be followed by "
                                  "a time (e.g. '%s 04:00')", expr, tokens[0], s_shorthands[i].name);
            break;
        }
    if (next == 0) {
        date = "*-*-*";
        time = "00:00:00";
        if (isalpha((unsigned char) tokens[0][0]))
            weekday = tokens[next++];
        if (next < count && !strchr(tokens[next], ':'))
            date = tokens[next++];
        if (next < count)
            time = tokens[next++];
        if (next < count)
            return tf_err_set(err, TF_ERR_INVALID, "calendar '%s': cannot read '%s' (expected "
                              "weekdays like Mon..Fri, a date like *-*-01, then a time like 04:00)",
                              expr, tokens[next]);
    }
    s_set_range(&self->weekdays, 0, 6, 1);
    s_set_range(&self->years, 0, YEAR_MAX - YEAR_MIN, 1);
    int rc = weekday ? s_parse_weekdays(expr, weekday, &self->weekdays, err) : TF_OK;
    if (rc == TF_OK)
        rc = s_parse_date(self, expr, date, err);
    if (rc == TF_OK)
        rc = s_parse_time(self, expr, time, err);
    return rc;
}

tf_calendar_t *
tf_calendar_new(const char *expr, tf_err_t *err)
{
    tf_calendar_t *self = calloc(1, sizeof *self);
    if (!self || !(self->text = strdup(expr ? expr : ""))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "calendar: out of memory");
        return NULL;
    }
    if (s_calendar_parse(self, self->text, err) != TF_OK)
        tf_calendar_destroy(&self);
    return self;
}

void
tf_calendar_destroy(tf_calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->text);
    free(*self_p);
    *self_p = NULL;
}

const char *
tf_calendar_text(const tf_calendar_t *self)
{
    return self->text;
}

/* Does the calendar's weekday and date part match local day `days` (since the epoch)? */
static bool
s_day_matches(const tf_calendar_t *self, int64_t days)
{
    int64_t y;
    int m, d;
    s_civil_from_days(days, &y, &m, &d);
    int monday0 = (s_weekday_sun0(days) + 6) % 7;
    return y >= YEAR_MIN && y <= YEAR_MAX && s_set_has(&self->years, (int) (y - YEAR_MIN))
           && s_set_has(&self->months, m - 1) && s_set_has(&self->days, d - 1)
           && s_set_has(&self->weekdays, monday0);
}

/* The first time of day (seconds) >= from that the calendar's time part matches. */
static bool
s_next_time_of_day(const tf_calendar_t *self, int from, int *tod)
{
    int h0 = from / 3600, m0 = from / 60 % 60, s0 = from % 60;
    for (int h = h0; h < 24; h++) {
        if (!s_set_has(&self->hours, h))
            continue;
        for (int m = h == h0 ? m0 : 0; m < 60; m++) {
            if (!s_set_has(&self->minutes, m))
                continue;
            for (int s = h == h0 && m == m0 ? s0 : 0; s < 60; s++)
                if (s_set_has(&self->seconds, s)) {
                    *tod = h * 3600 + m * 60 + s;
                    return true;
                }
        }
    }
    return false;
}

/* Walks local days from the one holding after_ms. Mapping local times to instants this way
   (earliest occurrence, gaps to the jump) never decreases, so no local time before that of
   after_ms can give an instant after it, and the first instant found past it is the answer. */
int
tf_calendar_next(const tf_calendar_t *self, const tf_tz_t *tz, int64_t after_ms, int64_t *next_ms,
                 tf_err_t *err)
{
    int64_t after_s = s_floor_div(after_ms, 1000);
    int64_t local = after_s + s_offset_at(tz, after_s, NULL);
    int64_t first_day = s_floor_div(local, DAY_S);
    for (int64_t day = first_day; day < first_day + SEARCH_DAYS; day++) {
        if (!s_day_matches(self, day))
            continue;
        int tod = 0;
        int from = day == first_day ? (int) (local - first_day * DAY_S) : 0;
        while (from < DAY_S && s_next_time_of_day(self, from, &tod)) {
            int64_t instant = s_local_to_utc(tz, day * DAY_S + tod);
            if (instant * 1000 > after_ms) {
                *next_ms = instant * 1000;
                return TF_OK;
            }
            from = tod + 1;
        }
    }
    char when[40];
    tf_tz_format(tz, after_ms, when, sizeof when);
    return tf_err_set(err, TF_ERR_NOTFOUND, "calendar '%s' does not fire in the 8 years after %s "
                      "(%s)", self->text, when, tf_tz_name(tz));
}

bool
tf_calendar_matches_day(const tf_calendar_t *self, const tf_tz_t *tz, int64_t instant_ms)
{
    int64_t t = s_floor_div(instant_ms, 1000);
    return s_day_matches(self, s_floor_div(t + s_offset_at(tz, t, NULL), DAY_S));
}
