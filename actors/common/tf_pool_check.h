/*  tf_pool_check - the check made before a backup job starts (tf_job_check: `tapeflow backup`
    and the scheduler): the pool exists and something can be written to it (docs/operations.md, "Before a backup starts").

    Refused (TF_ERR_NOTFOUND / TF_ERR_STATE, message says what to do):
    - a pool that is neither configured (pools/<pool>) nor known from any volume's label;
    - a pool whose volumes the catalog knows are all unwritable (full, error), unless the drive
      (tapewriter/drive) has a changer with a candidate in a slot: a cartridge the catalog does
      not know (blank, or only loading it tells) or an appendable or expired volume of the pool.
    Passed with a note: a configured pool the catalog knows no volume of (the tape writer checks
    the tape in the drive), a changer with a candidate or one that did not answer, or a catalog
    that did not answer.
*/
#ifndef TF_POOL_CHECK_H_INCLUDED
#define TF_POOL_CHECK_H_INCLUDED

#include <stddef.h>

#include "tf_client.h"
#include "tf_config.h"

/* TF_OK when the backup may start (note: something the operator should know, or ""). */
int tf_pool_check(tf_config_t *cfg, tf_client_t *client, const char *pool, char *note,
                  size_t note_size, tf_err_t *err);

#endif
