/*  tf_pool_check - can a backup to this pool be written at all? (see tf_pool_check.h) */
#define _GNU_SOURCE
#include "tf_pool_check.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_changer.h"
#include "tf_changer_config.h"

/* Whether a slot of the changer holds a cartridge the tape writer could take for pool: one the
   catalog does not know (blank, or labelled elsewhere: only loading it tells) or a volume of
   the pool that is appendable or expired. 1 yes, 0 no (why says what is there), -1 cannot tell
   (the changer did not answer; why says so). */
static int
s_changer_candidate(const char *url, const char *pool, const tf_msg_volume_row_t *v, size_t count,
                    char *why, size_t why_size)
{
    tf_err_t err = {0};
    tf_changer_t *changer = tf_changer_open(url, &err);
    tf_changer_inv_t *inv = NULL;
    if (!changer || tf_changer_inventory(changer, &inv, &err) != TF_OK) {
        snprintf(why, why_size, "changer %s did not answer (%s)", url, err.message);
        tf_changer_destroy(&changer);
        return -1;
    }
    int found = 0;
    size_t full = 0;
    for (size_t i = 0; i < inv->count && !found; i++) {
        const tf_changer_elem_t *e = &inv->elem[i];
        if (e->type != TF_CHANGER_SLOT || !e->full)
            continue;
        full++;
        const tf_msg_volume_row_t *known = NULL;
        for (size_t k = 0; k < count && e->barcode[0] && !known; k++)
            if (strcmp(v[k].label, e->barcode) == 0)
                known = &v[k];
        found = !known
                || (known->pool && strcmp(known->pool, pool) == 0 && known->state
                    && (strcmp(known->state, "appendable") == 0 || strcmp(known->state, "expired") == 0));
    }
    snprintf(why, why_size, "changer %s has %s", url,
             found ? "a cartridge the tape writer may take"
             : full ? "no blank or expired cartridge of the pool in its slots" : "no cartridge in its slots");
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&changer);
    return found;
}

static bool
s_pool_configured(tf_config_t *cfg, const char *pool)
{
    bool found = false;
    zlist_t *names = tf_config_children(cfg, "pools");
    for (const char *name = names ? zlist_first(names) : NULL; name && !found; name = zlist_next(names))
        found = strcmp(name, pool) == 0;
    zlist_destroy(&names);
    return found;
}

/* The label after the highest "<letters><digits>" one the catalog knows (TF0003 -> TF0004),
   "TF0001" when there is none. */
static void
s_next_label(const tf_msg_volume_row_t *v, size_t count, char *buf, size_t size)
{
    char prefix[32] = "TF";
    uint64_t best = 0;
    int width = 4;
    for (size_t i = 0; i < count; i++) {
        const char *l = v[i].label;
        size_t p = 0;
        while (l[p] && isalpha((unsigned char) l[p]))
            p++;
        size_t d = p;
        while (l[d] && isdigit((unsigned char) l[d]))
            d++;
        if (p == 0 || d == p || p >= sizeof prefix || d - p > 12)
            continue;
        uint64_t n = strtoull(l + p, NULL, 10);
        if (n >= best) {
            best = n;
            width = (int) (d - p);
            snprintf(prefix, sizeof prefix, "%.*s", (int) p, l);
        }
    }
    snprintf(buf, size, "%s%0*" PRIu64, prefix, width, best + 1);
}

int
tf_pool_check(tf_config_t *cfg, tf_client_t *client, const char *pool, char *note, size_t note_size,
              tf_err_t *err)
{
    note[0] = '\0';
    const char *drive = tf_config_str(cfg, "tapewriter/drive");
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY}, reply;
    query.cat_query = (tf_msg_cat_query_t){.query = "volumes", .limit = TF_MSG_MAX_ROWS};
    tf_err_t qerr = {0};
    int timeout = (int) tf_config_ms(cfg, "broker/heartbeat") * 10;
    int q = tf_client_call(client, "catalog", NULL, NULL, &query, &reply, timeout, &qerr);
    if (q == TF_OK && reply.type != TF_MSG_CAT_REPLY) {
        q = tf_err_set(&qerr, TF_ERR_PROTO, "the catalog answered with %s instead of cat_reply",
                       tf_msg_type_name(reply.type));
        tf_msg_clear(&reply);
    }
    if (q != TF_OK) {
        /* The backup's own items wait for the catalog anyway; do not refuse for this. */
        snprintf(note, note_size, "could not check pool %s against the catalog's volumes: %s", pool,
                 qerr.message);
        return TF_OK;
    }
    const tf_msg_volume_row_t *v = reply.cat_reply.volumes;
    size_t count = reply.cat_reply.volumes_count;
    size_t of_pool = 0, writable = 0;
    char states[512] = "";
    for (size_t i = 0; i < count; i++) {
        if (!v[i].pool || strcmp(v[i].pool, pool) != 0)
            continue;
        of_pool++;
        bool ok = v[i].state && (strcmp(v[i].state, "appendable") == 0 || strcmp(v[i].state, "expired") == 0);
        if (ok)
            writable++;
        else if (of_pool <= 4) {
            size_t len = strlen(states);
            snprintf(states + len, sizeof states - len, "%s%s %s", len ? ", " : "", v[i].label,
                     v[i].state ? v[i].state : "?");
        }
    }
    char next[64];
    s_next_label(v, count, next, sizeof next);
    bool configured = s_pool_configured(cfg, pool);
    int rc = TF_OK;
    if (writable > 0)
        rc = TF_OK;
    else if (of_pool == 0 && !configured)
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "pool '%s' is unknown: no volume is labelled for it and "
                        "the configuration has no pools/%s section; label one with 'tapeflow tape label "
                        "%s --label %s --pool %s' (or back up to another pool with --pool)",
                        pool, pool, drive, next, pool);
    else if (of_pool == 0)
        /* Configured, but the catalog knows none of its volumes (a new installation, a tape
           labelled while the stack was down): the tape writer checks the tape in the drive. */
        snprintf(note, note_size, "the catalog knows no volume of pool %s; the tape in %s must be "
                 "labelled for it ('tapeflow tape label %s --label %s --pool %s')", pool, drive,
                 drive, next, pool);
    else {
        char url[1024], why[2048];  /* url and the changer's error message */
        /* changers/<name>/drive<N> = drive (docs/changers.md): the tape writer may load another
           cartridge itself; url is empty when the drive has no changer. */
        tf_changer_for_drive(cfg, drive, url, sizeof url, NULL);  /* the tape writer's own rule */
        int candidate = url[0] ? s_changer_candidate(url, pool, v, count, why, sizeof why) : 0;
        if (candidate != 0)
            snprintf(note, note_size, "pool %s has no appendable or expired volume (%s%s); %s", pool,
                     states, of_pool > 4 ? ", ..." : "", why);
        else if (url[0])
            rc = tf_err_set(err, TF_ERR_STATE, "pool '%s' has no writable volume (%s%s) and %s: put a "
                            "blank or expired cartridge of the pool in a slot, or label one with "
                            "'tapeflow tape label %s --label %s --pool %s'", pool, states,
                            of_pool > 4 ? ", ..." : "", why, drive, next, pool);
        else
            rc = tf_err_set(err, TF_ERR_STATE, "pool '%s' has no writable volume (%s%s): label one "
                            "with 'tapeflow tape label %s --label %s --pool %s', or wait until one "
                            "expires (tapeflow tape list --pool %s)", pool, states,
                            of_pool > 4 ? ", ..." : "", drive, next, pool, pool);
    }
    tf_msg_clear(&reply);
    return rc;
}
