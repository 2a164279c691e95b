/*  tf_calendar - calendar expressions in the systemd OnCalendar style, and time zones read
    from the system's tz database (TZif files), for the scheduler (issue 11).

    Expressions (docs/operations.md, "Schedules"):
        daily 04:00          every day at 04:00 (daily/weekly/monthly/yearly/hourly/minutely,
                             optionally followed by a time that replaces their 00:00)
        Sun 23:05            weekdays: Mon Tue ... Sun, lists "Sat,Sun", ranges "Mon..Fri"
        *-*-01 02:00         YEAR-MONTH-DAY with *, lists (1,15), ranges (01..07), steps (1/2)
        Mon..Fri 22:30
        Sun *-*-01..07 03:00 the first Sunday of every month
        *:0/15               HH:MM[:SS] with the same forms; a missing seconds field is 00
    A time zone is an IANA name ("Europe/Berlin", "UTC") or "" for the machine's own
    (/etc/localtime, else UTC). The files are read from $TZDIR or /usr/share/zoneinfo, once,
    when the zone is made; no process-wide state (TZ, tzset) is touched.

    Daylight saving time: a local time that does not exist that day (the clocks jump over it)
    fires at the next valid instant - the moment the clocks jump; a local time that happens
    twice (the clocks go back) fires at its first occurrence only.
*/
#ifndef TF_CALENDAR_H_INCLUDED
#define TF_CALENDAR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct _tf_calendar_t tf_calendar_t;
typedef struct _tf_tz_t tf_tz_t;

/* Parses expr; errors name the part that is wrong: "calendar 'Mon..Fry 22:30': unknown
   weekday 'Fry' (use Mon Tue Wed Thu Fri Sat Sun)". */
tf_calendar_t *tf_calendar_new(const char *expr, tf_err_t *err);
void tf_calendar_destroy(tf_calendar_t **self_p);
/* The expression as given. */
const char *tf_calendar_text(const tf_calendar_t *self);

/* The first instant (UTC ms) strictly after after_ms at which the calendar fires in tz.
   TF_ERR_NOTFOUND when it never fires again (a date in the past). */
int tf_calendar_next(const tf_calendar_t *self, const tf_tz_t *tz, int64_t after_ms, int64_t *next_ms,
                     tf_err_t *err);

/* True when the local date of instant_ms in tz matches the calendar's weekday and date parts
   (its time is ignored): level rules ("full on Sun *-*-01..07"). */
bool tf_calendar_matches_day(const tf_calendar_t *self, const tf_tz_t *tz, int64_t instant_ms);

/* Loads a zone: NULL or "" is the machine's. Errors: "unknown time zone 'Europe/Berln' (no
   /usr/share/zoneinfo/Europe/Berln; see timedatectl list-timezones)". */
tf_tz_t *tf_tz_new(const char *name, tf_err_t *err);
void tf_tz_destroy(tf_tz_t **self_p);
/* The zone's name ("Europe/Berlin"; "localtime" for the machine's when it has no name). */
const char *tf_tz_name(const tf_tz_t *self);

/* Local time of a UTC instant: the offset east of UTC in seconds, and the abbreviation in use
   ("CET", "EDT") when abbr is not NULL. */
int tf_tz_offset(const tf_tz_t *self, int64_t utc_ms, int32_t *offset_s, const char **abbr);

/* "2026-12-02 04:00:00 CET" (local time of utc_ms in tz). */
void tf_tz_format(const tf_tz_t *self, int64_t utc_ms, char *buf, size_t size);

/* "2026-12-02T03:00:00Z" - UTC, as job triggers and JSON carry instants. */
void tf_time_format_utc(int64_t utc_ms, char *buf, size_t size);

#endif
