/*  tf_changer_config - which configured changer serves a drive (docs/changers.md).

    A changer is configured as
        changers/<name>/url = sg:/dev/sgN | iscsi://... | sim:...
        changers/<name>/drive<N> = <drive name>      (N: its drive element, 0..)
    The tape writer, `tapeflow backup`'s pool check and `tapeflow changer` look drives and
    changers up here, with one rule: the first changer in configuration order that lists the
    drive and has a url. */
#ifndef TF_CHANGER_CONFIG_H_INCLUDED
#define TF_CHANGER_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "tf_config.h"

/* Drive elements looked at per changer (changers/<name>/drive0 .. drive63). */
#define TF_CHANGER_MAX_DRIVES 64

/* The changer serving drive: true with its url in url and the drive element in *element (may
   be NULL); false (url "") when no changer with a url lists the drive. */
bool tf_changer_for_drive(tf_config_t *cfg, const char *drive, char *url, size_t url_size, int *element);
/* The same, with the changer's configured name too (name "" when none). */
bool tf_changer_find_drive(tf_config_t *cfg, const char *drive, char *name, size_t name_size, char *url,
                           size_t url_size, int *element);
/* changers/<changer>/drive<element>: the drive name configured there, or NULL. */
const char *tf_changer_drive_name(tf_config_t *cfg, const char *changer, int element);

#endif
