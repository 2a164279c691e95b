/*  holding - the stager's holding disk: tmp/ for archives being received, ready/ for verified
    ones, and the byte accounting that bounds it (stager/capacity).

    Layout under dir (see docs/staging.md):
        tmp/<archive>.part      bytes received so far (deleted at every start)
        tmp/<archive>.rows      file rows received so far (the sidecar, tf_sidecar.h)
        ready/<archive>.data    a verified archive, fsynced
        ready/<archive>.meta    its description (ZPL), written atomically before the data is
                                renamed into ready/, so a .data never exists without its .meta
        ready/<archive>.rows    its file rows sidecar, renamed into ready/ after the .meta and
                                before the .data (archives staged before sidecars have none)
    An archive is "ready" when its .meta and .data exist. At start, tmp/ is emptied, and
    anything in ready/ that is not a complete pair is deleted (the redelivered file group stages
    it again); a sidecar that is missing or not the size its .meta says is dropped and the
    archive kept without one (the data is what matters; the tape writer copes without rows).
    Sizes count the sidecar: ready bytes are .data plus .rows.

    Release (issue 12): an archive is deleted once every holder its .meta needs has confirmed
    it - the tape ("tape") and each replication target in replicas. Each confirmation is
    written to the .meta (confirmed) atomically before anything is deleted, so a restart
    re-announces only what is still missing. A .meta without replicas (older ones too) needs
    the tape alone.
*/
#ifndef HOLDING_H_INCLUDED
#define HOLDING_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct {
    char *archive_id;
    char *job_id;
    char *pool;
    char *compression;
    char *checksum;
    uint64_t group_no;
    uint64_t size;
    uint64_t files;
    uint64_t bytes;
    uint64_t rows_size;  /* bytes of ready/<archive>.rows; 0: no sidecar */
    char *rows_checksum; /* its xxh128 ("" without sidecar) */
    char *parked;        /* "" while its job runs; "cancelled" or "failed" once the stager learned
                            its job stopped: kept for a retry or a purge, never announced again
                            and never counted as space the tape writer will free */
    bool restore;        /* a restore stream (stage_open.purpose "restore"): fetched by an
                            extractor, never announced to tape, deleted by its release */
    char *host;          /* stage_open.host ("" when none): for a restore stream, the host whose
                            extractor may fetch it */
    char *replicas;      /* the job's replication targets, from its stage_open ("nas,offsite";
                            "" none): each must confirm it besides the tape */
    bool replica_required; /* the job's replication was required (stage_open): a target may not
                              give up; a .meta with replicas but without replica_required is
                              required */
    char *confirmed;     /* who confirmed it so far ("@tape,nas"; "" nobody) */
} holding_meta_t;

/* The tape writer's name in confirmed: '@' is not a character of a configured name, so a
   replication target can never pass for the tape (one named "tape" is refused anyway). */
#define HOLDING_TAPE "@tape"

typedef struct _holding_t holding_t;

/* Creates tmp/ and ready/ under dir, empties tmp/, indexes ready/. */
holding_t *holding_new(const char *dir, tf_err_t *err);
void holding_destroy(holding_t **self_p);

const char *holding_dir(holding_t *self);
/* Bytes of all ready archives (data and sidecars), and how many there are. */
uint64_t holding_ready_bytes(holding_t *self);
size_t holding_ready_count(holding_t *self);
/* Bytes the file system still has for us (statvfs f_bavail), or 0 when it cannot tell. */
uint64_t holding_disk_free(holding_t *self);
/* Bytes the file system could ever give us when empty: its size less the blocks reserved for
   root (statvfs (f_blocks - (f_bfree - f_bavail)) * f_frsize), or 0 when it cannot tell. */
uint64_t holding_disk_size(holding_t *self);

/* The ready archive with this id, or NULL. */
const holding_meta_t *holding_lookup(holding_t *self, const char *archive_id);
/* Ids of all ready archives, sorted (caller destroys the list; strings owned by the list). */
zlist_t *holding_ready_ids(holding_t *self);

/* Creates (truncates) tmp/<archive>.part; returns its fd. */
int holding_part_open(holding_t *self, const char *archive_id, int *fd, tf_err_t *err);
/* Creates (truncates) tmp/<archive>.rows, the sidecar being received; returns its fd. */
int holding_rows_open(holding_t *self, const char *archive_id, int *fd, tf_err_t *err);
/* Deletes tmp/<archive>.part and tmp/<archive>.rows (missing is fine). */
void holding_part_drop(holding_t *self, const char *archive_id);
/* Makes the received archive ready: fsync fd (and rows_fd, the sidecar, unless -1), write
   ready/<id>.meta atomically, rename tmp/<id>.rows to ready/<id>.rows, rename tmp/<id>.part to
   ready/<id>.data, fsync both folders. meta->rows_size is the sidecar's size (0 with no
   rows_fd). Closes both fds in every case. */
int holding_commit(holding_t *self, const holding_meta_t *meta, int fd, int rows_fd, tf_err_t *err);
/* Deletes a ready archive's files (.data, .rows, .meta) and fsyncs ready/ (missing files are
   fine). */
int holding_remove(holding_t *self, const char *archive_id, tf_err_t *err);
/* Parks a ready archive (state "cancelled" or "failed") or, with "", makes it live again;
   rewrites ready/<id>.meta atomically so the mark survives a restart. */
int holding_park(holding_t *self, const char *archive_id, const char *state, tf_err_t *err);
/* Records that who (HOLDING_TAPE "@tape" or a target of meta->replicas) confirmed a ready archive: rewrites
   ready/<id>.meta atomically (a confirmation already there is fine). */
int holding_confirm(holding_t *self, const char *archive_id, const char *who, tf_err_t *err);
/* Whether who is in meta's confirmed list. */
bool holding_confirmed(const holding_meta_t *meta, const char *who);
/* The replication targets of meta that have not confirmed yet, as "nas, offsite" in buf
   ("" none); returns how many. */
size_t holding_replicas_waiting(const holding_meta_t *meta, char *buf, size_t size);
/* Whether name is one of a comma list ("nas,offsite"; read by tf_id_list_next, the one reader of
   the lists of a .meta and of stage_open.replicas). */
bool holding_list_has(const char *list, const char *name);
/* Ready archives the tape writer will not free: how many, their bytes (with sidecars) and the
   first one (sorted by id, or NULL). */
typedef struct {
    size_t count;
    uint64_t bytes;
    const holding_meta_t *first;
} holding_tally_t;
/* In one pass: parked gets the parked ready archives (cancelled or failed jobs), on_tape the live
   ones the tape confirmed that wait only for replicas. */
void holding_unfreed(holding_t *self, holding_tally_t *parked, holding_tally_t *on_tape);
/* Reads up to size bytes of a ready archive at offset; *got is what was read. */
int holding_read(holding_t *self, const char *archive_id, uint64_t offset, void *buf, size_t size,
                 size_t *got, tf_err_t *err);
/* The same for its file rows sidecar (TF_ERR_NOTFOUND when it has none). */
int holding_read_rows(holding_t *self, const char *archive_id, uint64_t offset, void *buf, size_t size,
                      size_t *got, tf_err_t *err);

#endif
