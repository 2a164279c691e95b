/*  volume_decide - the volume decision (see volume_decide.h). */
#include "volume_decide.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tf_volume.h"

static void __attribute__((format(printf, 3, 4)))
s_say(volume_decision_t *d, volume_verdict_t verdict, const char *fmt, ...)
{
    d->verdict = verdict;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

static bool
s_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The label on the tape as the volume in use. */
static void
s_take_label(const volume_facts_t *f, volume_decision_t *d)
{
    const tf_label_t *l = &f->tape.label;
    snprintf(d->label, sizeof d->label, "%s", l->label);
    snprintf(d->pool, sizeof d->pool, "%s", l->pool);
    snprintf(d->set_id, sizeof d->set_id, "%s", l->set_id);
    snprintf(d->previous, sizeof d->previous, "%s", l->previous);
    d->sequence = l->sequence;
    if (tf_volume_parse_time(l->created, &d->created_ms) != TF_OK)
        d->created_ms = 0;
    if (tf_volume_parse_time(l->expires, &d->label_expires_ms) != TF_OK)
        d->label_expires_ms = 0;
}

/* What the tape and the catalog together say about the tapeflow volume in the drive. */
typedef struct {
    bool error;          /* the catalog has the cartridge in state error (any generation) */
    bool same;           /* the catalog's row is of this very label (generation and pool) */
    bool full;
    bool expired;
    uint64_t archives;
    int64_t last_written_ms;
} s_use_t;

static void
s_use(const volume_facts_t *f, volume_decision_t *d, s_use_t *u)
{
    memset(u, 0, sizeof *u);
    const volume_row_t *row = &f->row;
    u->archives = f->tape_files > 0 ? f->tape_files - 1 : 0;
    if (row->present) {
        d->write_errors = row->write_errors;   /* the same cartridge, whatever its label says */
        d->read_errors = row->read_errors;
        u->error = s_eq(row->state, "error");
        u->same = row->created_ms == d->created_ms && s_eq(row->pool, f->tape.label.pool);
    }
    int64_t catalog_expires = 0;
    if (u->same) {
        u->full = row->state && strcmp(row->state, "appendable") != 0;
        u->last_written_ms = row->last_written_ms;
        catalog_expires = row->expires_ms;
        d->bytes_used = row->bytes_used;
    } else if (u->archives > 0)
        u->last_written_ms = f->tape_last_written_ms;
    d->expires_ms = tf_volume_expiry_known(d->label_expires_ms, u->last_written_ms, f->retention_ms,
                                           catalog_expires);
    /* A held volume (the catalog's chain retention) is in use whatever its date says. */
    u->expired = u->archives > 0 && d->expires_ms > 0 && f->now_ms >= d->expires_ms && !(u->same && row->held);
    d->in_error = u->error;
    d->full = u->full;
    d->archives = u->archives;
}

/* A new label for the tape in the drive (name, pool, and for a set its place in it). */
static void
s_new_label(volume_decision_t *d, const char *name, const char *pool, const char *set_id, uint64_t sequence,
            const char *previous)
{
    snprintf(d->label, sizeof d->label, "%s", name);
    snprintf(d->pool, sizeof d->pool, "%s", pool);
    snprintf(d->set_id, sizeof d->set_id, "%s", set_id ? set_id : "");
    snprintf(d->previous, sizeof d->previous, "%s", previous ? previous : "");
    d->sequence = sequence;
    d->created_ms = 0;
    d->label_expires_ms = 0;
    d->expires_ms = 0;
    d->bytes_used = 0;
    d->full = false;
}

static void
s_write(const volume_facts_t *f, volume_decision_t *d)
{
    const char *drive = f->drive;
    const char *pool = f->pool;
    if (f->mount == VOLUME_MOUNT_NONE) {
        s_say(d, VOLUME_NEXT, "drive %s has no tape: %s a volume of pool %s", drive,
              f->changer ? "loading" : "waiting for", pool);
        return;
    }
    if (f->mount == VOLUME_MOUNT_UNREADABLE) {
        s_say(d, f->changer ? VOLUME_NEXT : VOLUME_REFUSE, "the tape in drive %s cannot be read (%s)", drive,
              f->tape.found[0] ? f->tape.found : "no reason given");
        return;
    }
    tf_err_t err = {0};
    if (tf_label_check(&f->tape, drive, pool, &err) != TF_OK) {
        /* With a changer another cartridge may be of the pool; without, an operator must act. */
        s_say(d, f->changer ? VOLUME_NEXT : VOLUME_REFUSE, "%s", err.message);
        d->notable = true;
        return;
    }
    s_take_label(f, d);
    s_use_t u;
    s_use(f, d, &u);
    const char *label = d->label;
    if (u.error) {
        /* Written to no more (not even recycled) until an operator clears it. */
        if (f->can_next) {
            s_say(d, VOLUME_NEXT, "tape %s in drive %s is marked error (write errors)", label, drive);
            return;
        }
        s_say(d, VOLUME_REFUSE, "tape %s in drive %s is marked error (%" PRIu64 " write error%s, %" PRIu64
              " read error%s): mount an appendable or expired tape of pool %s; 'tapeflow tape clear %s' "
              "makes it appendable again once the cartridge is known to be good",
              label, drive, d->write_errors, d->write_errors == 1 ? "" : "s", d->read_errors,
              d->read_errors == 1 ? "" : "s", pool, label);
        d->notable = true;
        return;
    }
    if (u.expired) {
        char date[32];
        uint64_t gone = u.archives;
        int64_t expired_on = d->expires_ms;
        label = f->tape.label.label;   /* d->label is rewritten below */
        s_new_label(d, label, f->tape.label.pool, NULL, 1, NULL);
        d->archives = gone;
        d->expires_ms = expired_on;
        s_say(d, VOLUME_RECYCLE, "tape %s in drive %s expired on %s: recycled for pool %s (its %" PRIu64
              " archive%s are gone)", label, drive, tf_volume_format_date(expired_on, date, sizeof date),
              pool, gone, gone == 1 ? "" : "s");
        d->notable = true;
        return;
    }
    if (u.full && f->can_next) {
        s_say(d, VOLUME_NEXT, "tape %s in drive %s is full", label, drive);
        return;
    }
    if (u.full) {
        s_say(d, VOLUME_REFUSE, "tape %s in drive %s is full: mount an appendable or expired tape of pool %s",
              label, drive, pool);
        d->notable = true;
        return;
    }
    s_say(d, VOLUME_APPEND, "tape %s in drive %s is appendable (%" PRIu64 " archive%s)", label, drive,
          u.archives, u.archives == 1 ? "" : "s");
}

static void
s_span(const volume_facts_t *f, volume_decision_t *d)
{
    const char *drive = f->drive;
    const char *pool = f->pool;
    const char *set_id = f->set_id ? f->set_id : "";
    const char *prev = f->prev_label ? f->prev_label : "";
    if (f->mount != VOLUME_MOUNT_READ) {
        s_say(d, VOLUME_NEXT, "drive %s has %s: not taking it for set %s", drive,
              f->mount == VOLUME_MOUNT_NONE ? "no tape" : "a tape that cannot be read", set_id);
        return;
    }
    bool blank = f->tape.kind == TF_LABEL_BLANK;
    bool ours = f->tape.kind == TF_LABEL_TAPEFLOW && s_eq(f->tape.label.pool, pool);
    s_use_t u;
    memset(&u, 0, sizeof u);
    if (ours) {
        s_take_label(f, d);
        s_use(f, d, &u);
    }
    const char *label = f->tape.label.label;
    if (ours && u.error) {
        s_say(d, VOLUME_NEXT, "drive %s: tape %s is marked error (write errors): not taking it for set %s "
              "('tapeflow tape clear %s' once the cartridge is known to be good)", drive, label, set_id, label);
        d->notable = true;
        return;
    }
    if (ours && s_eq(f->tape.label.set_id, set_id) && f->tape.label.sequence == f->prev_sequence + 1) {
        /* The next volume of this very set: the archive goes on after its data. */
        d->bytes_used = u.same ? d->bytes_used : 0;
        s_say(d, VOLUME_APPEND, "tape %s in drive %s is volume %" PRIu64 " of set %s", label, drive,
              f->tape.label.sequence, set_id);
        return;
    }
    /* A labelled tape of the pool without any archive loses nothing when it joins the set. */
    bool empty = ours && !u.expired && !s_eq(label, prev) && f->tape_files <= 1;
    const char *name = blank ? (f->barcode ? f->barcode : "") : label;
    if ((!blank && !u.expired && !empty) || !tf_label_name_valid(name, 32)) {
        s_say(d, VOLUME_NEXT, "drive %s: the tape %s%s is not blank, empty, expired or the next volume of "
              "set %s: not taking it", drive, blank ? "with barcode " : "",
              blank && !f->barcode ? "(no barcode)" : name, set_id);
        return;
    }
    uint64_t gone = u.expired ? u.archives : 0;
    uint64_t sequence = (f->prev_sequence ? f->prev_sequence : 1) + 1;
    s_new_label(d, name, pool, set_id, sequence, prev);
    d->archives = gone;
    s_say(d, VOLUME_RECYCLE, "tape %s in drive %s is %s: labelled as volume %" PRIu64 " of set %s (pool %s, after %s)",
          name, drive, blank ? "blank" : u.expired ? "expired" : "empty", sequence, set_id, pool, prev);
    d->notable = true;
}

static void
s_restore(const volume_facts_t *f, volume_decision_t *d)
{
    const char *want = f->want_label ? f->want_label : "";
    if (f->mount == VOLUME_MOUNT_READ && f->tape.kind == TF_LABEL_TAPEFLOW
        && s_eq(f->tape.label.label, want)) {
        s_take_label(f, d);
        s_say(d, VOLUME_APPEND, "drive %s holds volume %s", f->drive, want);
        return;
    }
    s_say(d, VOLUME_NEXT, "drive %s %s, not volume %s", f->drive,
          f->mount == VOLUME_MOUNT_NONE ? "has no tape"
          : f->mount == VOLUME_MOUNT_UNREADABLE ? "has a tape that cannot be read"
          : f->tape.kind == TF_LABEL_TAPEFLOW ? "holds another volume" : "holds no tapeflow volume",
          want);
}

static void
s_label(const volume_facts_t *f, volume_decision_t *d)
{
    const char *barcode = f->barcode ? f->barcode : "";
    if (f->mount != VOLUME_MOUNT_READ) {
        s_say(d, VOLUME_REFUSE, "cartridge %s in drive %s: %s: not labelled", barcode, f->drive,
              f->mount == VOLUME_MOUNT_NONE ? "no tape in the drive" : "the tape cannot be read");
        return;
    }
    if (f->tape.kind != TF_LABEL_BLANK) {
        /* Labelling by barcode never overwrites anything: that takes an operator naming the tape. */
        if (f->tape.kind == TF_LABEL_TAPEFLOW)
            s_say(d, VOLUME_REFUSE, "cartridge %s is already labelled %s (pool %s): left as it is", barcode,
                  f->tape.label.label, f->tape.label.pool);
        else
            s_say(d, VOLUME_REFUSE, "cartridge %s is not blank (it holds %s): not labelled; 'tapeflow tape "
                  "label DRIVE --label NAME --pool POOL --force' labels it and loses its contents", barcode,
                  f->tape.found);
        return;
    }
    if (!tf_label_name_valid(barcode, 32) || !tf_label_name_valid(f->pool, 64)) {
        s_say(d, VOLUME_REFUSE, "cartridge %s: its barcode is no valid label name (1 to 32 of A-Z a-z 0-9 "
              ". _ -): label it with 'tapeflow tape label DRIVE --label NAME --pool %s'", barcode,
              f->pool ? f->pool : "POOL");
        return;
    }
    s_new_label(d, barcode, f->pool, NULL, 1, NULL);
    s_say(d, VOLUME_RECYCLE, "cartridge %s is blank: labelled %s (pool %s)", barcode, barcode, f->pool);
}

void
volume_decide(const volume_facts_t *facts, volume_decision_t *out)
{
    memset(out, 0, sizeof *out);
    out->retention_ms = facts->retention_ms;
    switch (facts->purpose) {
    case VOLUME_FOR_WRITE: s_write(facts, out); break;
    case VOLUME_FOR_SPAN: s_span(facts, out); break;
    case VOLUME_FOR_RESTORE: s_restore(facts, out); break;
    case VOLUME_FOR_LABEL: s_label(facts, out); break;
    default: s_say(out, VOLUME_REFUSE, "unknown purpose %d", (int) facts->purpose); break;
    }
}

const char *
volume_verdict_name(volume_verdict_t verdict)
{
    switch (verdict) {
    case VOLUME_APPEND: return "append";
    case VOLUME_RECYCLE: return "recycle";
    case VOLUME_NEXT: return "next";
    case VOLUME_REFUSE: return "refuse";
    }
    return "?";
}

bool
volume_purpose_parse(const char *name, volume_purpose_t *purpose)
{
    static const char *names[] = {"write", "span", "restore", "label"};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *purpose = (volume_purpose_t) i;
            return true;
        }
    return false;
}
