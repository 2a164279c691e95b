/*  label_item - a tape_label item (tapeflow tape label --barcodes): the labeller has the
    cartridge loaded into this drive, the tape is read, and labelled with its barcode as label
    name only when it is blank (the labeller's decision, purpose label). The item's result is
    the labeller's vol_grant: recycle = labelled, refuse = left as it was (message says why).
*/
#ifndef LABEL_ITEM_H_INCLUDED
#define LABEL_ITEM_H_INCLUDED

#include "tapewriter_priv.h"

int label_item_handle(item_t *it, const tf_msg_tape_label_t *req, tf_err_t *err);

#endif
