/*  restore_overwrite - the --overwrite rule of a restore, by name (restore.h applies it).

    Header only, in the tape/ library, so the tapeflow CLI (which links tftape but not the tape
    writer's logic) validates --overwrite with the very parser the tape writer uses. */
#ifndef RESTORE_OVERWRITE_H_INCLUDED
#define RESTORE_OVERWRITE_H_INCLUDED

#include <stdbool.h>
#include <string.h>

typedef enum {
    RESTORE_OVERWRITE_NEVER = 0,
    RESTORE_OVERWRITE_OLDER,
    RESTORE_OVERWRITE_ALWAYS,
} restore_overwrite_t;

/* "never" | "older" | "always" (NULL or "": never); false for anything else. */
static inline bool
restore_overwrite_parse(const char *name, restore_overwrite_t *mode)
{
    if (!name || !*name || strcmp(name, "never") == 0)
        *mode = RESTORE_OVERWRITE_NEVER;
    else if (strcmp(name, "older") == 0)
        *mode = RESTORE_OVERWRITE_OLDER;
    else if (strcmp(name, "always") == 0)
        *mode = RESTORE_OVERWRITE_ALWAYS;
    else
        return false;
    return true;
}

#endif
