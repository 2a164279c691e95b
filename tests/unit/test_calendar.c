/*  common/tf_calendar: calendar expressions and time zones, against the real zone files of
    tzdata. Instants are given and expected as UTC text: the "after" side is read with timegm
    (independent of the code under test), the result is written with tf_time_format_utc, whose
    own output is checked against fixed numbers first. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tf_calendar.h"

/* "2026-03-29T01:00:00Z" -> ms, with the C library (not tf_calendar). */
static int64_t
s_ms(const char *iso)
{
    struct tm tm = {0};
    const char *end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    return (int64_t) timegm(&tm) * 1000;
}

/* The next fire time of expr in zone after `after`, as UTC text ("" when it never fires). */
static const char *
s_next(const char *expr, const char *zone, const char *after)
{
    static char out[64];
    tf_err_t err = {0};
    tf_calendar_t *cal = tf_calendar_new(expr, &err);
    if (!cal)
        fail_msg("%s", err.message);
    tf_tz_t *tz = tf_tz_new(zone, &err);
    if (!tz)
        fail_msg("%s", err.message);
    int64_t next = 0;
    int rc = tf_calendar_next(cal, tz, s_ms(after), &next, &err);
    if (rc == TF_OK)
        tf_time_format_utc(next, out, sizeof out);
    else {
        assert_int_equal(rc, TF_ERR_NOTFOUND);
        out[0] = '\0';
    }
    tf_calendar_destroy(&cal);
    tf_tz_destroy(&tz);
    assert_null(cal);
    assert_null(tz);
    return out;
}

/* The error message of a calendar that must be refused. */
static const char *
s_refused(const char *expr)
{
    static tf_err_t err;
    memset(&err, 0, sizeof err);
    tf_calendar_t *cal = tf_calendar_new(expr, &err);
    if (cal)
        fail_msg("calendar '%s' was accepted", expr);
    assert_int_not_equal(err.code, TF_OK);
    return err.message;
}

static void
test_format(void **state)
{
    (void) state;
    char buf[64];
    tf_time_format_utc(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    tf_time_format_utc(1798761600000LL, buf, sizeof buf);       /* 2027-01-01 */
    assert_string_equal(buf, "2027-01-01T00:00:00Z");
    tf_time_format_utc(1772326861999LL, buf, sizeof buf);       /* 2026-03-01T01:01:01.999 */
    assert_string_equal(buf, "2026-03-01T01:01:01Z");
    tf_time_format_utc(-1000, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");

    tf_err_t err = {0};
    tf_tz_t *tz = tf_tz_new("Europe/Berlin", &err);
    assert_non_null(tz);
    assert_string_equal(tf_tz_name(tz), "Europe/Berlin");
    tf_tz_format(tz, s_ms("2026-12-02T03:00:00Z"), buf, sizeof buf);
    assert_string_equal(buf, "2026-12-02 04:00:00 CET");
    tf_tz_format(tz, s_ms("2026-07-01T22:30:05Z"), buf, sizeof buf);
    assert_string_equal(buf, "2026-07-02 00:30:05 CEST");
    tf_tz_destroy(&tz);
    tz = tf_tz_new("America/New_York", &err);
    assert_non_null(tz);
    tf_tz_format(tz, s_ms("2026-12-02T03:00:00Z"), buf, sizeof buf);
    assert_string_equal(buf, "2026-12-01 22:00:00 EST");
    tf_tz_destroy(&tz);
}

/* Every form the header lists, and the shorthands. */
static void
test_forms(void **state)
{
    (void) state;
    /* 2026-12-02 is a Wednesday. */
    assert_string_equal(s_next("daily 04:00", "Europe/Berlin", "2026-12-01T12:00:00Z"), "2026-12-02T03:00:00Z");
    assert_string_equal(s_next("daily 04:00", "UTC", "2026-12-02T04:00:00Z"), "2026-12-03T04:00:00Z");
    assert_string_equal(s_next("Sun 23:05", "UTC", "2026-12-02T00:00:00Z"), "2026-12-06T23:05:00Z");
    assert_string_equal(s_next("*-*-01 02:00", "UTC", "2026-12-02T00:00:00Z"), "2027-01-01T02:00:00Z");
    assert_string_equal(s_next("Mon..Fri 22:30", "UTC", "2026-12-04T23:00:00Z"), "2026-12-07T22:30:00Z");
    assert_string_equal(s_next("Mon..Fri 22:30", "UTC", "2026-12-04T22:29:59Z"), "2026-12-04T22:30:00Z");
    assert_string_equal(s_next("Sun *-*-01..07 03:00", "UTC", "2026-12-02T00:00:00Z"), "2026-12-06T03:00:00Z");
    assert_string_equal(s_next("Sun *-*-01..07 03:00", "UTC", "2026-12-06T03:00:00Z"), "2027-01-03T03:00:00Z");
    assert_string_equal(s_next("*:0/15", "UTC", "2026-12-02T12:07:30Z"), "2026-12-02T12:15:00Z");
    assert_string_equal(s_next("*:0/15", "UTC", "2026-12-02T23:45:00Z"), "2026-12-03T00:00:00Z");

    assert_string_equal(s_next("minutely", "UTC", "2026-12-02T12:07:30Z"), "2026-12-02T12:08:00Z");
    assert_string_equal(s_next("hourly", "UTC", "2026-12-02T12:07:30Z"), "2026-12-02T13:00:00Z");
    assert_string_equal(s_next("daily", "UTC", "2026-12-02T12:07:30Z"), "2026-12-03T00:00:00Z");
    assert_string_equal(s_next("DAILY", "UTC", "2026-12-02T12:07:30Z"), "2026-12-03T00:00:00Z");
    assert_string_equal(s_next("weekly", "UTC", "2026-12-02T12:07:30Z"), "2026-12-07T00:00:00Z");
    assert_string_equal(s_next("weekly 06:00", "UTC", "2026-12-02T12:07:30Z"), "2026-12-07T06:00:00Z");
    assert_string_equal(s_next("monthly", "UTC", "2026-12-02T12:07:30Z"), "2027-01-01T00:00:00Z");
    assert_string_equal(s_next("monthly 02:00", "UTC", "2026-11-30T12:00:00Z"), "2026-12-01T02:00:00Z");
    assert_string_equal(s_next("yearly", "UTC", "2026-12-02T12:07:30Z"), "2027-01-01T00:00:00Z");
    assert_string_equal(s_next("annually", "UTC", "2027-01-01T00:00:00Z"), "2028-01-01T00:00:00Z");

    /* Weekdays by full name and in any case; a date alone is midnight; a weekday alone too. */
    assert_string_equal(s_next("Monday 09:00", "UTC", "2026-12-02T00:00:00Z"), "2026-12-07T09:00:00Z");
    assert_string_equal(s_next("fRi 09:00", "UTC", "2026-12-02T00:00:00Z"), "2026-12-04T09:00:00Z");
    assert_string_equal(s_next("2026-12-24", "UTC", "2026-12-02T00:00:00Z"), "2026-12-24T00:00:00Z");
    assert_string_equal(s_next("Sat", "UTC", "2026-12-02T00:00:00Z"), "2026-12-05T00:00:00Z");
    assert_string_equal(s_next("12-24 18:00", "UTC", "2026-12-25T00:00:00Z"), "2027-12-24T18:00:00Z");
    assert_string_equal(s_next("2026-12-24 18:00:30", "UTC", "2026-12-02T00:00:00Z"), "2026-12-24T18:00:30Z");
    /* A past date never fires again; February 29 waits for a leap year. */
    assert_string_equal(s_next("2020-01-01 00:00", "UTC", "2026-12-02T00:00:00Z"), "");
    assert_string_equal(s_next("*-02-29 00:00", "UTC", "2026-12-02T00:00:00Z"), "2028-02-29T00:00:00Z");
    assert_string_equal(s_next("*-02-30 00:00", "UTC", "2026-12-02T00:00:00Z"), "");

    tf_err_t err = {0};
    tf_calendar_t *cal = tf_calendar_new("  Mon..Fri   22:30 ", &err);
    assert_non_null(cal);
    assert_string_equal(tf_calendar_text(cal), "  Mon..Fri   22:30 ");
    tf_calendar_destroy(&cal);
    tf_tz_t *tz = tf_tz_new("UTC", &err);
    assert_non_null(tz);
    cal = tf_calendar_new("2020-01-01", &err);
    assert_non_null(cal);
    int64_t next = 0;
    assert_int_equal(tf_calendar_next(cal, tz, s_ms("2026-12-02T00:00:00Z"), &next, &err), TF_ERR_NOTFOUND);
    assert_string_equal(err.message, "calendar '2020-01-01' does not fire in the 8 years after "
                                     "2026-12-02 00:00:00 UTC (UTC)");
    tf_calendar_destroy(&cal);
    tf_tz_destroy(&tz);
}

/* Lists, ranges, steps and wrapping weekday ranges. */
static void
test_lists_ranges_steps(void **state)
{
    (void) state;
    assert_string_equal(s_next("Sat,Sun 10:00", "UTC", "2026-12-02T00:00:00Z"), "2026-12-05T10:00:00Z");
    assert_string_equal(s_next("Sat,Sun 10:00", "UTC", "2026-12-05T10:00:00Z"), "2026-12-06T10:00:00Z");
    assert_string_equal(s_next("Sat..Mon 10:00", "UTC", "2026-12-06T10:00:00Z"), "2026-12-07T10:00:00Z");
    assert_string_equal(s_next("Sat..Mon 10:00", "UTC", "2026-12-07T10:00:00Z"), "2026-12-12T10:00:00Z");
    assert_string_equal(s_next("Mon,Wed..Thu 10:00", "UTC", "2026-12-03T10:00:00Z"), "2026-12-07T10:00:00Z");
    assert_string_equal(s_next("*-*-1,15 12:00", "UTC", "2026-12-02T00:00:00Z"), "2026-12-15T12:00:00Z");
    assert_string_equal(s_next("*-*-1,15 12:00", "UTC", "2026-12-15T12:00:00Z"), "2027-01-01T12:00:00Z");
    assert_string_equal(s_next("*-*-*/10 00:00", "UTC", "2026-12-02T00:00:00Z"), "2026-12-11T00:00:00Z");
    assert_string_equal(s_next("*-*-*/10 00:00", "UTC", "2026-12-21T00:00:00Z"), "2026-12-31T00:00:00Z");
    assert_string_equal(s_next("*-1/3-01 00:00", "UTC", "2026-12-02T00:00:00Z"), "2027-01-01T00:00:00Z");
    assert_string_equal(s_next("*-1/3-01 00:00", "UTC", "2027-01-01T00:00:00Z"), "2027-04-01T00:00:00Z");
    assert_string_equal(s_next("2026..2030/2-06-01 00:00", "UTC", "2026-12-02T00:00:00Z"), "2028-06-01T00:00:00Z");
    assert_string_equal(s_next("9..17/4:30", "UTC", "2026-12-02T09:30:00Z"), "2026-12-02T13:30:00Z");
    assert_string_equal(s_next("9..17/4:30", "UTC", "2026-12-02T17:30:00Z"), "2026-12-03T09:30:00Z");
    assert_string_equal(s_next("08,20:00", "UTC", "2026-12-02T08:00:00Z"), "2026-12-02T20:00:00Z");
    assert_string_equal(s_next("*:*:0/20", "UTC", "2026-12-02T08:00:40Z"), "2026-12-02T08:01:00Z");
    assert_string_equal(s_next("*:*:*", "UTC", "2026-12-02T08:00:40Z"), "2026-12-02T08:00:41Z");
    assert_string_equal(s_next("*:10..12", "UTC", "2026-12-02T08:12:00Z"), "2026-12-02T09:10:00Z");
    /* The first Sunday of the month, in a zone: the local date counts, not the UTC one. */
    assert_string_equal(s_next("Sun *-*-01..07 00:30", "Europe/Berlin", "2027-01-01T00:00:00Z"),
                        "2027-01-02T23:30:00Z");
    assert_string_equal(s_next("Sun *-*-01..07 00:30", "Europe/Berlin", "2027-01-02T23:30:00Z"),
                        "2027-02-06T23:30:00Z");
}

static void
test_matches_day(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_calendar_t *cal = tf_calendar_new("Sun *-*-01..07", &err);
    assert_non_null(cal);
    tf_tz_t *tz = tf_tz_new("Europe/Berlin", &err);
    assert_non_null(tz);
    assert_true(tf_calendar_matches_day(cal, tz, s_ms("2026-12-06T12:00:00Z")));
    assert_false(tf_calendar_matches_day(cal, tz, s_ms("2026-12-13T12:00:00Z")));  /* second Sunday */
    assert_false(tf_calendar_matches_day(cal, tz, s_ms("2026-12-05T12:00:00Z")));  /* Saturday */
    /* Saturday 23:30 UTC is Sunday 00:30 in Berlin. */
    assert_true(tf_calendar_matches_day(cal, tz, s_ms("2026-12-05T23:30:00Z")));
    tf_calendar_destroy(&cal);
    /* The time part is ignored. */
    cal = tf_calendar_new("Sun 23:05", &err);
    assert_non_null(cal);
    assert_true(tf_calendar_matches_day(cal, tz, s_ms("2026-12-13T08:00:00Z")));
    assert_false(tf_calendar_matches_day(cal, tz, s_ms("2026-12-13T23:00:00Z")));  /* Monday there */
    tf_calendar_destroy(&cal);
    cal = tf_calendar_new("daily", &err);
    assert_non_null(cal);
    assert_true(tf_calendar_matches_day(cal, tz, s_ms("2026-12-13T08:00:00Z")));
    tf_calendar_destroy(&cal);
    tf_tz_destroy(&tz);
}

/* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET
   (01:00Z). */
static void
test_dst_berlin(void **state)
{
    (void) state;
    const char *z = "Europe/Berlin";
    /* 02:30 does not exist on 2026-03-29: it fires when the clocks jump, 03:00 CEST. */
    assert_string_equal(s_next("02:30", z, "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
    assert_string_equal(s_next("02:30", z, "2026-03-29T01:00:00Z"), "2026-03-30T00:30:00Z");
    /* Every half hour across the jump: 02:00 and 02:30 both land on the jump - one run. */
    assert_string_equal(s_next("*:0/30", z, "2026-03-29T00:45:00Z"), "2026-03-29T01:00:00Z");
    assert_string_equal(s_next("*:0/30", z, "2026-03-29T01:00:00Z"), "2026-03-29T01:30:00Z");
    /* 02:30 happens twice on 2026-10-25 (00:30Z CEST, 01:30Z CET): only the first fires. */
    assert_string_equal(s_next("02:30", z, "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
    assert_string_equal(s_next("02:30", z, "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");
    assert_string_equal(s_next("02:30", z, "2026-10-25T00:45:00Z"), "2026-10-26T01:30:00Z");
    assert_string_equal(s_next("02:30", z, "2026-10-25T01:30:00Z"), "2026-10-26T01:30:00Z");
    /* Every half hour across the fall back: the repeated 02:00 and 02:30 CET do not fire. */
    assert_string_equal(s_next("*:0/30", z, "2026-10-25T00:15:00Z"), "2026-10-25T00:30:00Z");
    assert_string_equal(s_next("*:0/30", z, "2026-10-25T00:30:00Z"), "2026-10-25T02:00:00Z");
    /* daily 04:00 on both sides of each change. */
    assert_string_equal(s_next("daily 04:00", z, "2026-03-27T12:00:00Z"), "2026-03-28T03:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-03-28T03:00:00Z"), "2026-03-29T02:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-03-29T02:00:00Z"), "2026-03-30T02:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-10-23T12:00:00Z"), "2026-10-24T02:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-10-24T02:00:00Z"), "2026-10-25T03:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-10-25T03:00:00Z"), "2026-10-26T03:00:00Z");
}

/* America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST
   (06:00Z). */
static void
test_dst_new_york(void **state)
{
    (void) state;
    const char *z = "America/New_York";
    assert_string_equal(s_next("02:30", z, "2026-03-07T12:00:00Z"), "2026-03-08T07:00:00Z");
    assert_string_equal(s_next("02:30", z, "2026-03-08T07:00:00Z"), "2026-03-09T06:30:00Z");
    /* 01:30 happens twice on 2026-11-01 (05:30Z EDT, 06:30Z EST). */
    assert_string_equal(s_next("01:30", z, "2026-10-31T12:00:00Z"), "2026-11-01T05:30:00Z");
    assert_string_equal(s_next("01:30", z, "2026-11-01T05:30:00Z"), "2026-11-02T06:30:00Z");
    assert_string_equal(s_next("01:30", z, "2026-11-01T06:00:00Z"), "2026-11-02T06:30:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-03-06T12:00:00Z"), "2026-03-07T09:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-03-07T09:00:00Z"), "2026-03-08T08:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-03-08T08:00:00Z"), "2026-03-09T08:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-10-30T12:00:00Z"), "2026-10-31T08:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-10-31T08:00:00Z"), "2026-11-01T09:00:00Z");
    assert_string_equal(s_next("daily 04:00", z, "2026-11-01T09:00:00Z"), "2026-11-02T09:00:00Z");
}

/* 2040 lies past the last transition of a slim file: the footer rule decides. (In a fat file it
   is one of the stored transitions up to 2037, and the footer past that.) */
static void
test_footer_rule(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_tz_t *tz = tf_tz_new("Europe/Berlin", &err);
    assert_non_null(tz);
    int32_t off = 0;
    const char *abbr = NULL;
    assert_int_equal(tf_tz_offset(tz, s_ms("2040-07-01T12:00:00Z"), &off, &abbr), TF_OK);
    assert_int_equal(off, 7200);
    assert_string_equal(abbr, "CEST");
    assert_int_equal(tf_tz_offset(tz, s_ms("2040-01-15T12:00:00Z"), &off, &abbr), TF_OK);
    assert_int_equal(off, 3600);
    assert_string_equal(abbr, "CET");
    /* 2040-03-25 is the last Sunday of March: 01:00Z is the switch. */
    assert_int_equal(tf_tz_offset(tz, s_ms("2040-03-25T00:59:59Z"), &off, NULL), TF_OK);
    assert_int_equal(off, 3600);
    assert_int_equal(tf_tz_offset(tz, s_ms("2040-03-25T01:00:00Z"), &off, NULL), TF_OK);
    assert_int_equal(off, 7200);
    tf_tz_destroy(&tz);
    tz = tf_tz_new("America/New_York", &err);
    assert_non_null(tz);
    assert_int_equal(tf_tz_offset(tz, s_ms("2040-07-01T12:00:00Z"), &off, &abbr), TF_OK);
    assert_int_equal(off, -4 * 3600);
    assert_string_equal(abbr, "EDT");
    assert_int_equal(tf_tz_offset(tz, s_ms("2040-12-01T12:00:00Z"), &off, &abbr), TF_OK);
    assert_int_equal(off, -5 * 3600);
    assert_string_equal(abbr, "EST");
    tf_tz_destroy(&tz);
    assert_string_equal(s_next("02:30", "Europe/Berlin", "2040-03-24T12:00:00Z"), "2040-03-25T01:00:00Z");
    assert_string_equal(s_next("02:30", "Europe/Berlin", "2040-10-27T12:00:00Z"), "2040-10-28T00:30:00Z");
    assert_string_equal(s_next("daily 04:00", "Europe/Berlin", "2040-07-01T00:00:00Z"), "2040-07-01T02:00:00Z");
    assert_string_equal(s_next("daily 04:00", "America/New_York", "2040-07-01T12:00:00Z"), "2040-07-02T08:00:00Z");
}

/* 10,000 successive runs of a daily schedule: the walk is by days, so this is quick, and the
   last one is exact (2053-05-18 04:00 CEST). */
static void
test_many_calls(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_calendar_t *cal = tf_calendar_new("daily 04:00", &err);
    tf_tz_t *tz = tf_tz_new("Europe/Berlin", &err);
    assert_non_null(cal);
    assert_non_null(tz);
    int64_t t = s_ms("2026-01-01T00:00:00Z");
    for (int i = 0; i < 10000; i++) {
        int64_t next = 0;
        assert_int_equal(tf_calendar_next(cal, tz, t, &next, &err), TF_OK);
        assert_true(next > t);
        t = next;
    }
    assert_int_equal(t, 2631146400000LL);
    tf_calendar_destroy(&cal);
    tf_tz_destroy(&tz);
}

static void
test_bad_expressions(void **state)
{
    (void) state;
    assert_string_equal(s_refused("Mon..Fry 22:30"), "calendar 'Mon..Fry 22:30': unknown weekday 'Fry' "
                                                     "(use Mon Tue Wed Thu Fri Sat Sun)");
    assert_string_equal(s_refused("dayly 04:00"), "calendar 'dayly 04:00': unknown weekday 'dayly' "
                                                  "(use Mon Tue Wed Thu Fri Sat Sun)");
    assert_string_equal(s_refused("*-13-01"), "calendar '*-13-01': month 13 out of range 1..12");
    assert_string_equal(s_refused("*-0-01"), "calendar '*-0-01': month 0 out of range 1..12");
    assert_string_equal(s_refused("*-*-32 00:00"), "calendar '*-*-32 00:00': day 32 out of range 1..31");
    assert_string_equal(s_refused("24:00"), "calendar '24:00': hour 24 out of range 0..23");
    assert_string_equal(s_refused("12:60"), "calendar '12:60': minute 60 out of range 0..59");
    assert_string_equal(s_refused("12:00:60"), "calendar '12:00:60': second 60 out of range 0..59");
    assert_string_equal(s_refused("1900-01-01"), "calendar '1900-01-01': year 1900 out of range 1970..2199");
    assert_string_equal(s_refused("10..20..30:00"), "calendar '10..20..30:00': hour '10..20..30' cannot be "
                                                    "read (use *, N, N..M, N/STEP or lists with ',')");
    assert_string_equal(s_refused("12:x"), "calendar '12:x': minute 'x' cannot be read (use *, N, N..M, "
                                           "N/STEP or lists with ',')");
    assert_string_equal(s_refused("*:*/0"), "calendar '*:*/0': minute '*/0' cannot be read (use *, N, "
                                            "N..M, N/STEP or lists with ',')");
    assert_string_equal(s_refused("20..08:00"), "calendar '20..08:00': hour range 20..8 runs backwards");
    assert_string_equal(s_refused("12"), "calendar '12': date '12' cannot be read (write YEAR-MONTH-DAY "
                                         "like *-*-01 or 2026-12-24)");
    assert_string_equal(s_refused("1:2:3:4"), "calendar '1:2:3:4': time '1:2:3:4' cannot be read (write "
                                              "HOUR:MINUTE[:SECOND] like 04:00 or *:0/15)");
    assert_string_equal(s_refused(""), "calendar '': empty (write e.g. 'daily 04:00' or 'Mon..Fri 22:30')");
    assert_string_equal(s_refused("daily Mon"), "calendar 'daily Mon': 'daily' can only be followed by a "
                                                "time (e.g. 'daily 04:00')");
    assert_string_equal(s_refused("Mon 12:00 13:00"), "calendar 'Mon 12:00 13:00': cannot read '13:00' "
                                                      "(expected weekdays like Mon..Fri, a date like "
                                                      "*-*-01, then a time like 04:00)");
    assert_string_equal(s_refused("Mon,,Tue"), "calendar 'Mon,,Tue': cannot read weekdays 'Mon,,Tue' "
                                               "(write Mon, Sat,Sun or Mon..Fri)");
    assert_string_equal(s_refused("Mon;Tue"), "calendar 'Mon;Tue': cannot read weekdays 'Mon;Tue' "
                                              "(write Mon, Sat,Sun or Mon..Fri)");
}

/* A private $TZDIR: files written into it, removed with it. */
typedef struct {
    char dir[64];
    char *saved;        /* the TZDIR before, NULL when unset */
    char files[8][256];
    char subdirs[4][256];
    int file_count, subdir_count;
} s_tzdir_t;

static void
s_tzdir_enter(s_tzdir_t *self)
{
    memset(self, 0, sizeof *self);
    snprintf(self->dir, sizeof self->dir, "/tmp/test_calendar.XXXXXX");
    assert_non_null(mkdtemp(self->dir));
    const char *dir = getenv("TZDIR");
    self->saved = dir ? strdup(dir) : NULL;
    assert_int_equal(setenv("TZDIR", self->dir, 1), 0);
}

/* Writes DIR/SUB/NAME (SUB made once per name); returns the path. */
static const char *
s_tzdir_write(s_tzdir_t *self, const char *sub, const char *name, const void *data, size_t size)
{
    bool have = false;
    for (int i = 0; i < self->subdir_count; i++)
        have |= strcmp(strrchr(self->subdirs[i], '/') + 1, sub) == 0;
    if (!have) {
        assert_true(self->subdir_count < 4);
        char dir[256];
        snprintf(dir, sizeof dir, "%s/%s", self->dir, sub);
        assert_int_equal(mkdir(dir, 0700), 0);
        memcpy(self->subdirs[self->subdir_count++], dir, sizeof dir);
    }
    assert_true(self->file_count < 8);
    char *path = self->files[self->file_count++];
    char built[256];
    snprintf(built, sizeof built, "%s/%s/%s", self->dir, sub, name);
    memcpy(path, built, sizeof built);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void
s_tzdir_leave(s_tzdir_t *self)
{
    if (self->saved)
        assert_int_equal(setenv("TZDIR", self->saved, 1), 0);
    else
        assert_int_equal(unsetenv("TZDIR"), 0);
    free(self->saved);
    for (int i = 0; i < self->file_count; i++)
        assert_int_equal(unlink(self->files[i]), 0);
    for (int i = 0; i < self->subdir_count; i++)
        assert_int_equal(rmdir(self->subdirs[i]), 0);
    assert_int_equal(rmdir(self->dir), 0);
}

/* cmocka setup/teardown: the folder goes even when an assertion fails halfway. */
static int
s_tzdir_setup(void **state)
{
    static s_tzdir_t tzdir;
    s_tzdir_enter(&tzdir);
    *state = &tzdir;
    return 0;
}

static int
s_tzdir_teardown(void **state)
{
    s_tzdir_leave(*state);
    return 0;
}

static void
s_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24), p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8), p[3] = (unsigned char) v;
}

/* A "slim" TZif v2 file with no transitions at all: one local time type (utoff, abbr) and the
   POSIX rule `footer` for every instant - so the rule alone decides. Returns the size. */
static size_t
s_tzif_slim(unsigned char *buf, int32_t utoff, const char *abbr, const char *footer)
{
    size_t charcnt = strlen(abbr) + 1, n = 0;
    for (int section = 0; section < 2; section++) {
        memset(buf + n, 0, 44);
        memcpy(buf + n, "TZif2", 5);
        s_be32(buf + n + 36, 1);                    /* typecnt */
        s_be32(buf + n + 40, (uint32_t) charcnt);   /* charcnt */
        n += 44;
        s_be32(buf + n, (uint32_t) utoff);
        buf[n + 4] = 0;                             /* isdst */
        buf[n + 5] = 0;                             /* abbreviation index */
        n += 6;
        memcpy(buf + n, abbr, charcnt);
        n += charcnt;
    }
    n += (size_t) sprintf((char *) buf + n, "\n%s\n", footer);
    return n;
}

static void
test_zone_names(void **state)
{
    (void) state;
    tf_err_t err = {0};
    assert_null(tf_tz_new("Europe/Berln", &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    const char *dir = getenv("TZDIR");
    char expected[512];
    snprintf(expected, sizeof expected, "unknown time zone 'Europe/Berln' (no %s/Europe/Berln; see "
             "timedatectl list-timezones)", dir && *dir ? dir : "/usr/share/zoneinfo");
    assert_string_equal(err.message, expected);
    const char *refused[] = {"../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd", "Europe/Ber lin",
                             "Europe/Berlin;x"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_null(tf_tz_new(refused[i], &err));
        assert_int_equal(err.code, TF_ERR_INVALID);
        snprintf(expected, sizeof expected, "time zone '%s' is not a zone name (letters, digits, '_', "
                 "'+', '-' and '/', like Europe/Berlin; see timedatectl list-timezones)", refused[i]);
        assert_string_equal(err.message, expected);
    }
    assert_null(tf_tz_new("Europe", &err));     /* a folder */
    snprintf(expected, sizeof expected, "time zone 'Europe': %s/Europe is not a time zone file (cannot "
             "read it: is it a folder?)", dir && *dir ? dir : "/usr/share/zoneinfo");
    assert_string_equal(err.message, expected);

    /* The machine's zone: a name, and it answers. */
    tf_tz_t *tz = tf_tz_new("", &err);
    assert_non_null(tz);
    assert_true(strlen(tf_tz_name(tz)) > 0);
    int32_t off = 99999;
    assert_int_equal(tf_tz_offset(tz, 0, &off, NULL), TF_OK);
    assert_true(off > -86400 && off < 86400);
    tf_tz_destroy(&tz);
    tz = tf_tz_new(NULL, &err);
    assert_non_null(tz);
    tf_tz_destroy(&tz);
}

/* $TZDIR overrides /usr/share/zoneinfo: a copy of Berlin under another name, and a damaged file. */
static void
test_tzdir(void **state)
{
    tf_err_t err = {0};
    char expected[512];
    int32_t off = 0;
    tf_tz_t *tz = NULL;
    s_tzdir_t *tzdir = *state;
    char system_berlin[512];
    snprintf(system_berlin, sizeof system_berlin, "%s/Europe/Berlin",
             tzdir->saved && *tzdir->saved ? tzdir->saved : "/usr/share/zoneinfo");
    FILE *f = fopen(system_berlin, "rb");
    assert_non_null(f);
    static unsigned char berlin[65536];
    size_t n = fread(berlin, 1, sizeof berlin, f);
    assert_int_equal(fclose(f), 0);
    assert_true(n > 44);
    s_tzdir_write(tzdir, "Test", "Zone", berlin, n);
    const char *bad = s_tzdir_write(tzdir, "Test", "Bad", "TZif2", 5);
    tz = tf_tz_new("Test/Zone", &err);
    assert_non_null(tz);
    assert_string_equal(tf_tz_name(tz), "Test/Zone");
    assert_int_equal(tf_tz_offset(tz, s_ms("2026-07-01T00:00:00Z"), &off, NULL), TF_OK);
    assert_int_equal(off, 7200);
    tf_tz_destroy(&tz);
    assert_null(tf_tz_new("Test/Bad", &err));
    snprintf(expected, sizeof expected, "time zone 'Test/Bad': %s is not a time zone file (no TZif "
             "header)", bad);
    assert_string_equal(err.message, expected);
    assert_null(tf_tz_new("Europe/Berlin", &err));  /* not in this TZDIR */
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
}

/* Zone files without transitions, as "slim" files are past their last one: the POSIX rule of
   the footer gives the same instants across the 2026 changes as the full files. */
static void
test_slim_zones(void **state)
{
    static unsigned char buf[4][256];
    size_t size[4] = {
        s_tzif_slim(buf[0], 3600, "CET", "CET-1CEST,M3.5.0,M10.5.0/3"),
        s_tzif_slim(buf[1], -5 * 3600, "EST", "EST5EDT,M3.2.0,M11.1.0"),
        s_tzif_slim(buf[2], 10 * 3600, "AEST", "AEST-10AEDT,M10.1.0,M4.1.0/3"),
        s_tzif_slim(buf[3], 12600, "+0330", "<+0330>-3:30"),
    };
    s_tzdir_t *tzdir = *state;
    s_tzdir_write(tzdir, "Slim", "Berlin", buf[0], size[0]);
    s_tzdir_write(tzdir, "Slim", "New_York", buf[1], size[1]);
    s_tzdir_write(tzdir, "Slim", "Sydney", buf[2], size[2]);
    s_tzdir_write(tzdir, "Slim", "Tehran", buf[3], size[3]);

    const char *b = "Slim/Berlin";
    assert_string_equal(s_next("02:30", b, "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
    assert_string_equal(s_next("02:30", b, "2026-03-29T01:00:00Z"), "2026-03-30T00:30:00Z");
    assert_string_equal(s_next("02:30", b, "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
    assert_string_equal(s_next("02:30", b, "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");
    assert_string_equal(s_next("daily 04:00", b, "2026-03-28T03:00:00Z"), "2026-03-29T02:00:00Z");
    assert_string_equal(s_next("daily 04:00", b, "2026-10-24T02:00:00Z"), "2026-10-25T03:00:00Z");
    const char *ny = "Slim/New_York";
    assert_string_equal(s_next("02:30", ny, "2026-03-07T12:00:00Z"), "2026-03-08T07:00:00Z");
    assert_string_equal(s_next("01:30", ny, "2026-10-31T12:00:00Z"), "2026-11-01T05:30:00Z");
    assert_string_equal(s_next("01:30", ny, "2026-11-01T05:30:00Z"), "2026-11-02T06:30:00Z");
    assert_string_equal(s_next("daily 04:00", ny, "2026-03-07T09:00:00Z"), "2026-03-08T08:00:00Z");
    assert_string_equal(s_next("daily 04:00", ny, "2026-10-31T08:00:00Z"), "2026-11-01T09:00:00Z");

    /* Southern hemisphere: daylight time spans the new year. */
    tf_err_t err = {0};
    tf_tz_t *tz = tf_tz_new("Slim/Sydney", &err);
    assert_non_null(tz);
    int32_t off = 0;
    const char *abbr = NULL;
    assert_int_equal(tf_tz_offset(tz, s_ms("2026-01-15T00:00:00Z"), &off, &abbr), TF_OK);
    assert_int_equal(off, 11 * 3600);
    assert_string_equal(abbr, "AEDT");
    assert_int_equal(tf_tz_offset(tz, s_ms("2026-07-01T00:00:00Z"), &off, &abbr), TF_OK);
    assert_int_equal(off, 10 * 3600);
    assert_string_equal(abbr, "AEST");
    tf_tz_destroy(&tz);
    /* A quoted abbreviation and a half-hour offset, no daylight time. */
    tz = tf_tz_new("Slim/Tehran", &err);
    assert_non_null(tz);
    char text[64];
    tf_tz_format(tz, s_ms("2026-07-01T00:00:00Z"), text, sizeof text);
    assert_string_equal(text, "2026-07-01 03:30:00 +0330");
    tf_tz_destroy(&tz);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_lists_ranges_steps),
        cmocka_unit_test(test_matches_day),
        cmocka_unit_test(test_dst_berlin),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_footer_rule),
        cmocka_unit_test(test_many_calls),
        cmocka_unit_test(test_bad_expressions),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test_setup_teardown(test_tzdir, s_tzdir_setup, s_tzdir_teardown),
        cmocka_unit_test_setup_teardown(test_slim_zones, s_tzdir_setup, s_tzdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
