/*  tf_fakecatalog - an in-test catalog for tape writer tests: a "catalog" worker on the broker
    (a thread of the test) that records cat_written items and answers archive queries from them.

    It keeps no file rows: an archive_files query fails (and is counted), as for a catalog
    without them. Other items are answered done with an empty result.
*/
#ifndef TF_FAKECATALOG_H_INCLUDED
#define TF_FAKECATALOG_H_INCLUDED

#include <stddef.h>

#include "tf_config.h"
#include "tf_msg.h"

typedef struct _tf_fakecatalog_t tf_fakecatalog_t;

/* Registers with the broker of cfg; NULL with the reason on stderr. */
tf_fakecatalog_t *tf_fakecatalog_new(tf_config_t *cfg);
void tf_fakecatalog_destroy(tf_fakecatalog_t **self_p);

/* Number of archives recorded (cat_written, once per archive); copies the i-th into *out when
   i is below it (strings owned by the catalog; out may be NULL). */
size_t tf_fakecatalog_written(tf_fakecatalog_t *self, size_t i, tf_msg_cat_written_t *out);
/* archive_files queries asked (each failed: the fake catalog keeps no file rows). */
size_t tf_fakecatalog_file_queries(tf_fakecatalog_t *self);

#endif
