/*  volume_decide - the volume decision: one pure function from facts to a verdict
    (docs/operations.md, "Volumes, pools and retention"; docs/architecture.md, "The labeller").

    Facts in: what the tape writer read from the tape in its drive (nothing, an unreadable tape,
    or a label of some kind with the tape's own use), the catalog's row for that label, the
    pool's retention, the time, whether a changer or an operator can supply another volume,
    and what the volume is for:
        write    the start of an archive: may it be appended to, recycled, or must the drive
                 get another volume?
        span     the next volume of a set (an archive continues on it, or the full/errored
                 tape at the start of an archive is followed by it): the next volume of this
                 set, or a blank, empty or expired tape of the pool labelled into the set;
        restore  is this the volume a restore needs?
        label    barcode labelling: a blank cartridge gets its barcode as label; anything else
                 is never overwritten.
    Verdict out: APPEND (use the tape as it is, after its data), RECYCLE (write a new label -
    the same name after expiry, or a new member of a set, or a barcode label - then start at
    tape file 1), NEXT (this tape will not do: another volume is needed) or REFUSE (the item
    cannot be done; the reason says what to do). No I/O, no clock: everything arrives in the
    facts, so every edge is a unit test (tests/labeller/test_volume_decide.c).
*/
#ifndef VOLUME_DECIDE_H_INCLUDED
#define VOLUME_DECIDE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_label.h"

typedef enum {
    VOLUME_APPEND = 0,
    VOLUME_RECYCLE,
    VOLUME_NEXT,
    VOLUME_REFUSE
} volume_verdict_t;

typedef enum {
    VOLUME_FOR_WRITE = 0,
    VOLUME_FOR_SPAN,
    VOLUME_FOR_RESTORE,
    VOLUME_FOR_LABEL
} volume_purpose_t;

typedef enum {
    VOLUME_MOUNT_NONE = 0,     /* no tape in the drive */
    VOLUME_MOUNT_UNREADABLE,   /* a tape whose beginning could not be read */
    VOLUME_MOUNT_READ          /* tape.kind says what it holds */
} volume_mount_t;

/* The catalog's row for the label on the tape (any generation: error is the cartridge's). */
typedef struct {
    bool present;
    const char *state;         /* appendable | full | expired | error */
    const char *pool;
    int64_t created_ms;        /* its generation: equal to the label's created = the same one */
    int64_t expires_ms;
    int64_t last_written_ms;
    uint64_t bytes_used;
    uint64_t write_errors;
    uint64_t read_errors;
    bool held;                 /* past its expiry but a job still within retention restores from
                                  it (chain_retention keep): never recycled while held */
} volume_row_t;

typedef struct {
    volume_purpose_t purpose;
    const char *drive;         /* the drive's name, for messages */
    const char *pool;          /* the pool the item writes to (write, span, label) */
    /* span: the set continued and the volume before */
    const char *set_id;
    const char *prev_label;
    uint64_t prev_sequence;
    const char *want_label;    /* restore */
    const char *barcode;       /* the cartridge's barcode when a changer reported one, else NULL */
    /* the tape in the drive */
    volume_mount_t mount;
    tf_label_info_t tape;      /* mount READ: kind, found and (tapeflow) the label */
    uint64_t tape_files;       /* the label included */
    int64_t tape_last_written_ms; /* the last archive's header; 0: no archive */
    volume_row_t row;
    int64_t retention_ms;      /* of pool (TF_VOLUME_NEVER: kept forever) */
    int64_t now_ms;
    bool can_next;             /* a changer or an operator can supply another volume */
    bool changer;              /* the drive has a changer (wording) */
} volume_facts_t;

typedef struct {
    volume_verdict_t verdict;
    char reason[1024];         /* for the operator: an event, a refusal, a log line */
    bool notable;              /* the reason deserves an event, not only a log line */
    /* APPEND: the label on the tape; RECYCLE: the label to write (created is set when written) */
    char label[33];
    char pool[65];
    char set_id[65];
    uint64_t sequence;
    char previous[33];
    /* the volume's facts for writing and reporting it */
    int64_t created_ms;        /* APPEND: the label's generation; RECYCLE: 0 (new) */
    int64_t label_expires_ms;
    int64_t expires_ms;
    int64_t retention_ms;
    uint64_t bytes_used;
    uint64_t write_errors;
    uint64_t read_errors;
    uint64_t archives;         /* archives on the tape (RECYCLE: those now gone) */
    bool in_error;
    bool full;
} volume_decision_t;

/* The decision. Never fails: an impossible request is a REFUSE with its reason. */
void volume_decide(const volume_facts_t *facts, volume_decision_t *out);

/* "append", "recycle", "next", "refuse". */
const char *volume_verdict_name(volume_verdict_t verdict);
/* "write", "span", "restore", "label"; false when name is none of these. */
bool volume_purpose_parse(const char *name, volume_purpose_t *purpose);

#endif
