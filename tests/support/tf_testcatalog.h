/*  tf_testcatalog - a real catalog (actors/catalog) in a temporary folder for unit tests of the
    catalog's logic: its clock is the now field, items go through the codec as the broker
    delivers them, and replies come back through the codec as a client sees them.
*/
#ifndef TF_TESTCATALOG_H_INCLUDED
#define TF_TESTCATALOG_H_INCLUDED

#include <stdint.h>

#include "catalog.h"
#include "tf_msg.h"

typedef struct {
    char *dir;          /* removed by tf_testcatalog_destroy */
    char db[512];       /* the catalog file */
    catalog_t *cat;
    int64_t now;        /* the catalog's clock (UTC ms); tests move it */
    tf_err_t err;       /* the last item's failure */
} tf_testcatalog_t;

/* Opens a catalog in a new temporary folder named after prefix; NULL with the reason on
   stderr. */
tf_testcatalog_t *tf_testcatalog_new(const char *prefix, int64_t now);
void tf_testcatalog_destroy(tf_testcatalog_t **self_p);

/* Applies msg as a work item; *reply (may be NULL) gets the item's result decoded from its
   encoding. Returns the catalog's status, the reason in self->err. */
int tf_testcatalog_item(tf_testcatalog_t *self, const tf_msg_t *msg, tf_msg_t *reply);

#endif
