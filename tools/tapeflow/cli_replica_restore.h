/*  cli_replica_restore - `tapeflow restore JOB --from-replica TARGET`: reads the archives of a
    restore plan from a replication target instead of tape, on this host.

    The plan is the catalog's, exactly as for a tape restore (cmd_restore.c: chain, take lists,
    patterns). Every job of the plan (an incremental's chain names several) must be committed
    on the target - its <job>/manifest.json there - or nothing is read. Each archive is read
    from <root>/<job>/<archive>.data (tf_replica.h layout) through tf_target_read as a
    libarchive handle, its entries extracted with tf_extract (the restore rules of
    actors/common/tf_extract.h: the same as a tape restore's), and the xxh128 of every byte read
    compared with the manifest's size and checksum at the end; when the catalog's plan row has a
    size and checksum (the tape's record, or the replicator's for an archive not on tape) the
    manifest must agree with them before anything is read. An archive that cannot be read to
    its end, is not in its job's manifest, whose manifest disagrees with the catalog, or whose
    bytes differ from the manifest fails: it
    is named in result.failures with the reason (the files extracted from a damaged archive
    before the difference showed are said to be suspect) and the others are still read, as a
    tape restore does.
*/
#ifndef CLI_REPLICA_RESTORE_H_INCLUDED
#define CLI_REPLICA_RESTORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"
#include "tf_target.h"

typedef struct {
    const char *target_name;             /* replicas/NAME, for messages */
    const char *dest;                    /* absolute folder of this host */
    const tf_msg_path_row_t *patterns;   /* globs over stored paths; none: everything */
    size_t patterns_count;
    const char *overwrite;               /* never (NULL) | older | always */
    uint64_t strip_components;
    bool flat;
    size_t chunk;                        /* bytes read from the target at a time (replicator/chunk) */
    /* Called before each archive is read (index from 0 of count); NULL: quiet. */
    void (*progress)(void *arg, size_t index, size_t count, const tf_msg_archive_row_t *row);
    void *progress_arg;
} cli_replica_restore_opts_t;

/* Restores the rows' archives into opts->dest. Every job of the rows (archive_row.job_id) must
   be committed on the target first: else TF_ERR_NOTFOUND "job J of the chain is not on replica
   T: ..." naming the first that is not; any other failure reading a manifest (unreachable,
   timeout, a manifest that does not parse) with its own code and message. TF_OK: *result is a
   TF_MSG_RESTORE_RESULT the caller clears with tf_msg_clear (failures[] lists the archives that
   failed); else err says why nothing could be restored (a job missing on the target, dest not
   usable, out of memory, interrupted). */
int cli_replica_restore_run(tf_target_t *target, const tf_msg_archive_row_t *rows, size_t count,
                            const cli_replica_restore_opts_t *opts, tf_msg_t *result, tf_err_t *err);

#endif
