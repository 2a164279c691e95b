/*  The volume decision (actors/labeller/volume_decide.h): every verdict and the edges of the
    rules the tape writer applied before the labeller existed - error state, a catalog row of
    another generation, full, expired with and without archives, the label's own expires floor,
    retention never, an empty labelled tape joining a set, the next volume of a set, restore and
    barcode labelling. No processes, no clock: the facts are built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tf_volume.h"
#include "volume_decide.h"

#define DAY (86400000LL)
/* 2026-12-01T00:00:00Z */
#define NOW (1796083200000LL)
#define CREATED "2026-06-01T00:00:00Z"
#define CREATED_MS (1780272000000LL)

/* A tapeflow volume TF0001 of pool p in drive d, 3 archives, last written a day ago, the
   catalog's row of the same generation appendable; retention 30 days; no changer. */
static volume_facts_t
s_facts(void)
{
    volume_facts_t f;
    memset(&f, 0, sizeof f);
    f.purpose = VOLUME_FOR_WRITE;
    f.drive = "d";
    f.pool = "p";
    f.mount = VOLUME_MOUNT_READ;
    f.tape.kind = TF_LABEL_TAPEFLOW;
    snprintf(f.tape.found, sizeof f.tape.found, "a tapeflow label");
    snprintf(f.tape.label.label, sizeof f.tape.label.label, "TF0001");
    snprintf(f.tape.label.pool, sizeof f.tape.label.pool, "p");
    snprintf(f.tape.label.created, sizeof f.tape.label.created, CREATED);
    f.tape.label.sequence = 1;
    f.tape_files = 4;
    f.tape_last_written_ms = NOW - DAY;
    f.row = (volume_row_t){.present = true, .state = "appendable", .pool = "p", .created_ms = CREATED_MS,
                           .expires_ms = NOW + 29 * DAY, .last_written_ms = NOW - DAY, .bytes_used = 12345,
                           .write_errors = 1, .read_errors = 2};
    f.retention_ms = 30 * DAY;
    f.now_ms = NOW;
    return f;
}

static volume_decision_t
s_decide(const volume_facts_t *f)
{
    volume_decision_t d;
    volume_decide(f, &d);
    return d;
}

#define assert_reason(d, text)                                                              \
    do {                                                                                    \
        if (!strstr((d).reason, (text)))                                                    \
            fail_msg("reason \"%s\" lacks \"%s\"", (d).reason, (text));                     \
    } while (0)

static void
test_created_constant(void **state)
{
    (void) state;
    int64_t ms = 0;
    assert_int_equal(tf_volume_parse_time(CREATED, &ms), TF_OK);
    assert_int_equal(ms, CREATED_MS);
}

static void
test_write_append(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    assert_string_equal(volume_verdict_name(d.verdict), "append");
    assert_string_equal(d.label, "TF0001");
    assert_int_equal(d.bytes_used, 12345);       /* the catalog's use figures */
    assert_int_equal(d.write_errors, 1);
    assert_int_equal(d.read_errors, 2);
    assert_int_equal(d.created_ms, CREATED_MS);
    assert_int_equal(d.archives, 3);
    assert_int_equal(d.retention_ms, 30 * DAY);
    assert_int_equal(d.expires_ms, NOW + 29 * DAY);
}

static void
test_write_error_state(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.row.state = "error";
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_true(d.in_error);
    assert_reason(d, "tape TF0001 in drive d is marked error (1 write error, 2 read errors): mount an appendable "
                     "or expired tape of pool p; 'tapeflow tape clear TF0001' makes it appendable again");
    /* Error wins over expiry: never recycled until cleared. */
    f.row.expires_ms = NOW - 1;
    f.row.created_ms = 7;   /* and it is the cartridge's, whatever the generation */
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    f.can_next = true;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_reason(d, "marked error");
}

static void
test_write_full(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.row.state = "full";
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_string_equal(d.reason, "tape TF0001 in drive d is full: mount an appendable or expired tape of pool p");
    f.can_next = true;
    f.changer = true;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_true(d.full);
}

static void
test_write_expired_recycles(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.row.state = "expired";
    f.row.expires_ms = NOW - DAY;
    f.row.last_written_ms = NOW - 31 * DAY;
    f.tape_last_written_ms = NOW - 31 * DAY;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);
    assert_string_equal(d.label, "TF0001");     /* the same name and pool, a new generation */
    assert_string_equal(d.pool, "p");
    assert_int_equal(d.created_ms, 0);
    assert_int_equal(d.bytes_used, 0);
    assert_int_equal(d.archives, 3);
    assert_int_equal(d.write_errors, 1);       /* the cartridge's counts stay */
    assert_reason(d, "tape TF0001 in drive d expired on 2026-11-30: recycled for pool p (its 3 archives are gone)");
}

/* Past its expiry but held by the catalog (an incremental still within retention restores
   from it): not recycled - a full one asks for another tape, an appendable one is appended to. */
static void
test_write_held_not_recycled(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.row.state = "full";
    f.row.held = true;
    f.row.expires_ms = NOW - DAY;
    f.row.last_written_ms = f.tape_last_written_ms = NOW - 31 * DAY;
    f.can_next = true;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_reason(d, "tape TF0001 in drive d is full");
    f.row.state = "appendable";
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    /* The same facts without held: recycled (the test above). */
    f.row.held = false;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);
}

static void
test_write_expired_without_archives_appends(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.tape_files = 1;                           /* the label only */
    f.row = (volume_row_t){0};
    snprintf(f.tape.label.expires, sizeof f.tape.label.expires, "2026-01-01T00:00:00Z");
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);   /* nothing on it to lose or recycle */
    assert_int_equal(d.archives, 0);
}

static void
test_write_label_floor_keeps(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.row = (volume_row_t){0};                  /* no catalog: the tape decides */
    f.tape_last_written_ms = NOW - 60 * DAY;    /* retention passed ... */
    snprintf(f.tape.label.expires, sizeof f.tape.label.expires, "2027-01-05T00:00:00Z");
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);   /* ... but the operator's floor has not */
    int64_t floor_ms = 0;
    assert_int_equal(tf_volume_parse_time("2027-01-05", &floor_ms), TF_OK);
    assert_int_equal(d.expires_ms, floor_ms);
    f.tape.label.expires[0] = '\0';
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);  /* without it, a self-describing tape expires */
}

static void
test_write_retention_never(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.row = (volume_row_t){0};
    f.tape_last_written_ms = NOW - 3650 * DAY;
    f.retention_ms = TF_VOLUME_NEVER;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    assert_int_equal(d.expires_ms, TF_VOLUME_NEVER);
}

static void
test_write_generation_mismatch(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    /* A row of an older generation (the tape was relabelled since): its full state, use and
       expiry are not this label's. */
    f.row.created_ms = CREATED_MS - DAY;
    f.row.state = "full";
    f.row.expires_ms = NOW + 999 * DAY;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    assert_int_equal(d.bytes_used, 0);
    assert_int_equal(d.expires_ms, NOW - DAY + 30 * DAY);   /* from the tape's own last archive */
    /* The same with the row's pool differing. */
    f = s_facts();
    f.row.pool = "other";
    f.row.state = "full";
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    /* A later catalog expiry of the same generation wins over the tape's. */
    f = s_facts();
    f.row.expires_ms = NOW + 100 * DAY;
    f.row.last_written_ms = NOW - 100 * DAY;
    d = s_decide(&f);
    assert_int_equal(d.expires_ms, NOW + 100 * DAY);
    assert_int_equal(d.verdict, VOLUME_APPEND);
}

static void
test_write_wrong_tapes(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    snprintf(f.tape.label.pool, sizeof f.tape.label.pool, "other");
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_reason(d, "tape TF0001 in drive d belongs to pool other; this job writes to pool p");
    f.changer = f.can_next = true;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    f = s_facts();
    f.tape.kind = TF_LABEL_BLANK;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_reason(d, "tape in drive d has no label: label it with 'tapeflow tape label d --label NAME --pool p'");
    f.tape.kind = TF_LABEL_FOREIGN;
    snprintf(f.tape.found, sizeof f.tape.found, "a tar archive");
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_reason(d, "is not a tapeflow tape: it holds a tar archive");
    f.mount = VOLUME_MOUNT_NONE;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_reason(d, "drive d has no tape: waiting for a volume of pool p");
}

/* The next volume of set S after TF0001 (sequence 1). */
static volume_facts_t
s_span_facts(void)
{
    volume_facts_t f = s_facts();
    f.purpose = VOLUME_FOR_SPAN;
    f.set_id = "S";
    f.prev_label = "TF0001";
    f.prev_sequence = 1;
    f.changer = f.can_next = true;
    snprintf(f.tape.label.label, sizeof f.tape.label.label, "TF0002");
    f.row.state = "appendable";
    return f;
}

static void
test_span_next_in_set(void **state)
{
    (void) state;
    volume_facts_t f = s_span_facts();
    snprintf(f.tape.label.set_id, sizeof f.tape.label.set_id, "S");
    f.tape.label.sequence = 2;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    assert_string_equal(d.label, "TF0002");
    f.tape.label.sequence = 3;                  /* not the next one */
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_reason(d, "is not blank, empty, expired or the next volume of set S");
}

static void
test_span_blank_takes_barcode(void **state)
{
    (void) state;
    volume_facts_t f = s_span_facts();
    f.tape.kind = TF_LABEL_BLANK;
    f.barcode = "TF0005L6";
    f.row = (volume_row_t){0};
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);
    assert_string_equal(d.label, "TF0005L6");
    assert_string_equal(d.pool, "p");
    assert_string_equal(d.set_id, "S");
    assert_string_equal(d.previous, "TF0001");
    assert_int_equal(d.sequence, 2);
    assert_reason(d, "tape TF0005L6 in drive d is blank: labelled as volume 2 of set S (pool p, after TF0001)");
    f.barcode = NULL;                           /* an operator's drive: no barcode to name it */
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_reason(d, "(no barcode)");
}

static void
test_span_empty_labelled_joins(void **state)
{
    (void) state;
    volume_facts_t f = s_span_facts();
    f.tape_files = 1;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);
    assert_string_equal(d.label, "TF0002");
    assert_int_equal(d.sequence, 2);
    assert_reason(d, "is empty: labelled as volume 2 of set S");
    /* The full tape itself never joins its own set again. */
    snprintf(f.tape.label.label, sizeof f.tape.label.label, "TF0001");
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    /* Nor does a tape of another pool. */
    f = s_span_facts();
    f.tape_files = 1;
    snprintf(f.tape.label.pool, sizeof f.tape.label.pool, "q");
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
}

static void
test_span_expired_and_error(void **state)
{
    (void) state;
    volume_facts_t f = s_span_facts();
    f.row.state = "expired";
    f.row.expires_ms = NOW - 1;
    f.row.last_written_ms = f.tape_last_written_ms = NOW - 1 - 30 * DAY;
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);
    assert_int_equal(d.archives, 3);
    assert_reason(d, "is expired: labelled as volume 2 of set S");
    f.row.state = "error";
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_true(d.notable);
    assert_reason(d, "drive d: tape TF0002 is marked error (write errors): not taking it for set S");
    /* A tape with archives that has not expired stays as it is. */
    f = s_span_facts();
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    f.mount = VOLUME_MOUNT_NONE;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
}

static void
test_restore(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.purpose = VOLUME_FOR_RESTORE;
    f.want_label = "TF0001";
    f.row.state = "error";                      /* reading an errored tape is fine */
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_APPEND);
    f.want_label = "TF0009";
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_NEXT);
    assert_reason(d, "not volume TF0009");
}

static void
test_label_by_barcode(void **state)
{
    (void) state;
    volume_facts_t f = s_facts();
    f.purpose = VOLUME_FOR_LABEL;
    f.barcode = "TF0007L6";
    f.tape.kind = TF_LABEL_BLANK;
    f.row = (volume_row_t){0};
    volume_decision_t d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_RECYCLE);
    assert_string_equal(d.label, "TF0007L6");
    assert_string_equal(d.pool, "p");
    assert_int_equal(d.sequence, 1);
    f.tape.kind = TF_LABEL_TAPEFLOW;            /* never overwritten, whatever its state */
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_reason(d, "cartridge TF0007L6 is already labelled TF0001 (pool p): left as it is");
    f.tape.kind = TF_LABEL_FOREIGN;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_reason(d, "is not blank (it holds a tapeflow label): not labelled");
    f.tape.kind = TF_LABEL_BLANK;
    f.barcode = "BAD BARCODE";
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
    assert_reason(d, "no valid label name");
    f.mount = VOLUME_MOUNT_UNREADABLE;
    d = s_decide(&f);
    assert_int_equal(d.verdict, VOLUME_REFUSE);
}

static void
test_purpose_names(void **state)
{
    (void) state;
    volume_purpose_t p = VOLUME_FOR_WRITE;
    assert_true(volume_purpose_parse("span", &p));
    assert_int_equal(p, VOLUME_FOR_SPAN);
    assert_true(volume_purpose_parse("label", &p));
    assert_int_equal(p, VOLUME_FOR_LABEL);
    assert_false(volume_purpose_parse("bogus", &p));
    assert_false(volume_purpose_parse(NULL, &p));
    assert_string_equal(volume_verdict_name(VOLUME_REFUSE), "refuse");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_constant),
        cmocka_unit_test(test_write_append),
        cmocka_unit_test(test_write_error_state),
        cmocka_unit_test(test_write_full),
        cmocka_unit_test(test_write_expired_recycles),
        cmocka_unit_test(test_write_held_not_recycled),
        cmocka_unit_test(test_write_expired_without_archives_appends),
        cmocka_unit_test(test_write_label_floor_keeps),
        cmocka_unit_test(test_write_retention_never),
        cmocka_unit_test(test_write_generation_mismatch),
        cmocka_unit_test(test_write_wrong_tapes),
        cmocka_unit_test(test_span_next_in_set),
        cmocka_unit_test(test_span_blank_takes_barcode),
        cmocka_unit_test(test_span_empty_labelled_joins),
        cmocka_unit_test(test_span_expired_and_error),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_label_by_barcode),
        cmocka_unit_test(test_purpose_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
