/*  tf_volume - pools, retention and volume state (see tf_volume.h). */
#define _GNU_SOURCE
#include "tf_volume.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapefile.h"
#include "tf_clock.h"
#include "tf_log.h"

int
tf_volume_parse_period(const char *text, int64_t *ms)
{
    return tf_config_parse_retention(text, ms) == 0 ? TF_OK : TF_ERR_INVALID;
}

int
tf_volume_retention(tf_config_t *cfg, const char *pool, int64_t *ms, tf_err_t *err)
{
    return tf_config_pool_retention(cfg, pool, ms, err);
}

int64_t
tf_volume_pool_count(tf_config_t *cfg, const char *pool)
{
    char key[128];
    snprintf(key, sizeof key, "pools/%s/volumes", pool);
    int64_t n = tf_config_int(cfg, key);
    return n > 0 ? n : 0;
}

int
tf_volume_parse_time(const char *text, int64_t *ms)
{
    *ms = 0;
    if (!text || !*text)
        return TF_OK;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
    double frac = 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        return TF_ERR_INVALID;
    const char *rest = text + used;
    if (*rest == 'T') {
        int n2 = 0;
        if (sscanf(rest, "T%2d:%2d:%2d%n", &h, &mi, &s, &n2) != 3 || n2 != 9)
            return TF_ERR_INVALID;
        rest += n2;
        if (*rest == '.') {
            char *end = NULL;
            frac = strtod(rest, &end);
            if (!end || end == rest + 1)
                return TF_ERR_INVALID;
            rest = end;
        }
        if (strcmp(rest, "Z") != 0)
            return TF_ERR_INVALID;
    }
    else if (*rest != '\0')
        return TF_ERR_INVALID;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return TF_ERR_INVALID;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    if (t == (time_t) -1)
        return TF_ERR_INVALID;
    *ms = (int64_t) t * 1000 + (int64_t) (frac * 1000.0 + 0.5);
    return TF_OK;
}

/* ms since the epoch in UTC, the date alone or with the time; "never" for TF_VOLUME_NEVER. */
static const char *
s_format_utc(int64_t ms, bool date_only, char *buf, size_t size)
{
    if (ms == TF_VOLUME_NEVER) {
        snprintf(buf, size, "never");
        return buf;
    }
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "?");
        return buf;
    }
    if (date_only)
        strftime(buf, size, "%Y-%m-%d", &tm);
    else
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *
tf_volume_format_time(int64_t ms, char *buf, size_t size)
{
    if (ms == 0) {
        snprintf(buf, size, "%s", "");
        return buf;
    }
    return s_format_utc(ms, false, buf, size);
}

const char *
tf_volume_format_date(int64_t ms, char *buf, size_t size)
{
    return s_format_utc(ms, true, buf, size);
}

int64_t
tf_volume_expiry(int64_t label_expires_ms, int64_t last_written_ms, int64_t retention_ms)
{
    int64_t by_use = 0;
    if (last_written_ms > 0)
        by_use = retention_ms == TF_VOLUME_NEVER || last_written_ms > INT64_MAX - retention_ms
                     ? TF_VOLUME_NEVER
                     : last_written_ms + retention_ms;
    return label_expires_ms > by_use ? label_expires_ms : by_use;
}

int64_t
tf_volume_expiry_known(int64_t label_expires_ms, int64_t last_written_ms, int64_t retention_ms,
                       int64_t catalog_expires_ms)
{
    int64_t expires = tf_volume_expiry(label_expires_ms, last_written_ms, retention_ms);
    return catalog_expires_ms > expires ? catalog_expires_ms : expires;
}

const char *
tf_volume_state(bool full, int64_t expires_ms, int64_t now_ms)
{
    return tf_volume_state_of(false, full, expires_ms, now_ms);
}

const char *
tf_volume_state_of(bool error, bool full, int64_t expires_ms, int64_t now_ms)
{
    if (error)
        return "error";
    if (expires_ms > 0 && now_ms >= expires_ms)
        return "expired";
    return full ? "full" : "appendable";
}

int
tf_volume_check_overwrite(const char *label, int64_t expires_ms, int64_t now_ms, tf_err_t *err)
{
    if (expires_ms <= 0 || now_ms >= expires_ms)
        return TF_OK;
    if (expires_ms == TF_VOLUME_NEVER)
        return tf_err_set(err, TF_ERR_STATE, "tape %s never expires (its pool keeps volumes "
                          "forever) and cannot be overwritten", label);
    char date[32];
    return tf_err_set(err, TF_ERR_STATE, "tape %s expires on %s and cannot be overwritten", label,
                      tf_volume_format_date(expires_ms, date, sizeof date));
}

/* Tape files from the position at end of data; an unterminated last file counts. */
static int
s_files_at_eod(tf_drive_t *drive, uint64_t *files, tf_err_t *err)
{
    int rc = tf_drive_space(drive, TF_DRIVE_SPACE_EOD, 0, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot space to end of data: ");
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    if (!pos.file_known)
        return tf_err_set(err, TF_ERR_DEVICE, "the drive cannot tell how many tape files there are");
    *files = pos.file + (pos.block_known && pos.block > 0 ? 1 : 0);
    return TF_OK;
}

int
tf_volume_tape_usage(tf_drive_t *drive, uint64_t *tape_files, int64_t *last_written_ms, tf_err_t *err)
{
    *tape_files = 0;
    *last_written_ms = 0;
    int rc = s_files_at_eod(drive, tape_files, err);
    if (rc != TF_OK || *tape_files < 2)
        return rc;
    /* The last archive's header says when it was written. */
    tf_err_t rerr = {0};
    tapefile_reader_t *reader = tapefile_reader_open(drive, *tape_files - 1, &rerr);
    int64_t when = 0;
    const char *why = reader ? "its header has no readable time" : rerr.message;
    if (reader) {
        if (tf_volume_parse_time(tapefile_reader_header(reader)->created, &when) != TF_OK)
            when = 0;
        tapefile_reader_destroy(&reader);
    }
    if (when <= 0) {
        tf_log_warn("cannot tell when tape file %" PRIu64 " was written (%s): taking it as just "
                    "written", *tape_files - 1, why);
        when = tf_clock_wall_ms();
    }
    *last_written_ms = when;
    uint64_t again = 0;
    return s_files_at_eod(drive, &again, err);
}
