/*  tf_sim_changer_state - the simulated changer's options, state file and cartridge images.

    State file (text, one element per line after the first):
        tfsimchanger 1
        transport 1 - 0
        ie 10 - 0
        drive 100 TF0002L6 1001
        slot 1000 TF0001L6 0
    fields: type, element address, barcode ("-" when empty), source address (0: none).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tf_sim_changer_priv.h"
#include "tf_sim_image.h"

static int
s_int(const char *text, int max, int *value)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || end == text || *end || v < 0 || v > max)
        return TF_ERR_INVALID;
    *value = (int) v;
    return TF_OK;
}

static int
s_flag(const char *text, bool *value)
{
    if (!*text || strcmp(text, "1") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "on") == 0)
        *value = true;
    else if (strcmp(text, "0") == 0 || strcmp(text, "no") == 0 || strcmp(text, "off") == 0)
        *value = false;
    else
        return TF_ERR_INVALID;
    return TF_OK;
}

static int
s_apply(tf_simchg_opts_t *opts, const char *key, const char *value)
{
    if (strcmp(key, "type") == 0)
        return strcmp(value, "8") == 0 ? TF_OK : TF_ERR_INVALID;
    if (strcmp(key, "slots") == 0)
        return s_int(value, TF_SIMCHG_MAX_SLOTS, &opts->slots) == TF_OK && opts->slots >= 1
                   ? TF_OK
                   : TF_ERR_INVALID;
    if (strcmp(key, "drives") == 0)
        return s_int(value, TF_SIMCHG_MAX_DRIVES, &opts->drives) == TF_OK && opts->drives >= 1
                   ? TF_OK
                   : TF_ERR_INVALID;
    if (strcmp(key, "ie") == 0)
        return s_int(value, TF_SIMCHG_MAX_IE, &opts->ie);
    if (strcmp(key, "tapes") == 0)
        return s_int(value, TF_SIMCHG_MAX_SLOTS, &opts->tapes);
    if (strcmp(key, "prefix") == 0) {
        if (!*value || strlen(value) > 8 || strchr(value, '/') || strchr(value, ' '))
            return TF_ERR_INVALID;
        snprintf(opts->prefix, sizeof opts->prefix, "%s", value);
        return TF_OK;
    }
    if (strcmp(key, "door_open") == 0)
        return s_flag(value, &opts->door_open);
    if (strcmp(key, "stuck") == 0)
        return s_flag(value, &opts->stuck);
    if (strcmp(key, "no_barcodes") == 0)
        return s_flag(value, &opts->no_barcodes);
    if (strcmp(key, "no_eaa") == 0)
        return s_flag(value, &opts->no_eaa);
    if (strcmp(key, "ua") == 0) {
        if (strcmp(value, "reset") == 0)
            opts->ua = 0x29;
        else if (strcmp(value, "none") == 0 || strcmp(value, "0") == 0)
            opts->ua = 0;
        else
            return TF_ERR_INVALID;
        return TF_OK;
    }
    if (strcmp(key, "sense") == 0) {
        if (strcmp(value, "descriptor") != 0 && strcmp(value, "fixed") != 0)
            return TF_ERR_INVALID;
        opts->descriptor = strcmp(value, "descriptor") == 0;
        return TF_OK;
    }
    return TF_ERR_NOTFOUND;
}

int
tf_simchg_opts_parse(const char *query, tf_simchg_opts_t *opts, tf_err_t *err)
{
    memset(opts, 0, sizeof *opts);
    opts->slots = opts->drives = opts->ie = opts->tapes = -1;
    snprintf(opts->prefix, sizeof opts->prefix, "TF");
    char *copy = strdup(query ? query : "");
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = TF_OK;
    char *save = NULL;
    for (char *item = strtok_r(copy, "&", &save); item && rc == TF_OK;
         item = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(item, '=');
        const char *value = "";
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        int applied = s_apply(opts, item, value);
        if (applied == TF_ERR_NOTFOUND)
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "unknown sim changer option '%s' (known: type, slots, drives, ie, "
                            "tapes, prefix, door_open, stuck, no_barcodes, no_eaa, ua, sense)",
                            item);
        else if (applied != TF_OK)
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "bad value '%s' for sim changer option '%s' (slots 1-%d, drives "
                            "1-%d, ie 0-%d, type=8)",
                            value, item, TF_SIMCHG_MAX_SLOTS, TF_SIMCHG_MAX_DRIVES,
                            TF_SIMCHG_MAX_IE);
    }
    free(copy);
    return rc;
}

int
tf_simchg_lock(tf_simchg_t *self, int *fd, tf_err_t *err)
{
    *fd = open(self->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "sim changer: cannot open %s",
                            self->lock_path);
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(*fd);
            *fd = -1;
            return tf_err_errno(err, TF_ERR_IO, e, "sim changer: cannot lock %s",
                                self->lock_path);
        }
    }
    return TF_OK;
}

void
tf_simchg_unlock(int *fd)
{
    if (*fd >= 0)
        close(*fd); /* releases the flock */
    *fd = -1;
}

void
tf_simchg_cart_path(tf_simchg_t *self, const char *barcode, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s.img", self->dir, barcode);
}

void
tf_simchg_drive_path(tf_simchg_t *self, int drive, char *buf, size_t size)
{
    snprintf(buf, size, "%s/drive%d.img", self->dir, drive);
}

int
tf_simchg_drive_number(tf_simchg_t *self, const tf_changer_elem_t *elem)
{
    int n = 0;
    for (size_t i = 0; i < self->state->count; i++) {
        const tf_changer_elem_t *e = &self->state->elem[i];
        if (e == elem)
            return n;
        if (e->type == TF_CHANGER_DRIVE)
            n++;
    }
    return -1;
}

static void
s_add(tf_simchg_state_t *st, tf_changer_type_t type, int address)
{
    tf_changer_elem_t *e = &st->elem[st->count++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->address = (uint16_t) address;
    e->access = type != TF_CHANGER_TRANSPORT;
}

/* Makes a new library from the options, with blank cartridge images. */
static int
s_create(tf_simchg_t *self, tf_err_t *err)
{
    tf_simchg_opts_t *o = &self->opts;
    int slots = o->slots >= 0 ? o->slots : 8;
    int drives = o->drives >= 0 ? o->drives : 1;
    int ie = o->ie >= 0 ? o->ie : 1;
    int tapes = o->tapes >= 0 ? o->tapes : slots;
    if (tapes > slots + ie)
        return tf_err_set(err, TF_ERR_INVALID,
                          "sim changer: tapes=%d does not fit in slots=%d plus ie=%d", tapes,
                          slots, ie);
    tf_simchg_state_t *st = self->state;
    st->count = 0;
    s_add(st, TF_CHANGER_TRANSPORT, TF_SIMCHG_ADDR_TRANSPORT);
    for (int i = 0; i < ie; i++)
        s_add(st, TF_CHANGER_IE, TF_SIMCHG_ADDR_IE + i);
    for (int i = 0; i < drives; i++)
        s_add(st, TF_CHANGER_DRIVE, TF_SIMCHG_ADDR_DRIVE + i);
    for (int i = 0; i < slots; i++)
        s_add(st, TF_CHANGER_SLOT, TF_SIMCHG_ADDR_SLOT + i);
    /* Cartridges fill the slots first, then the import/export slots (as if just imported). */
    size_t first_slot = 1 + (size_t) ie + (size_t) drives;
    for (int i = 0; i < tapes; i++) {
        tf_changer_elem_t *e = i < slots ? &st->elem[first_slot + (size_t) i]
                                         : &st->elem[1 + (size_t) (i - slots)];
        e->full = true;
        e->impexp = e->type == TF_CHANGER_IE;
        snprintf(e->barcode, sizeof e->barcode, "%s%04dL6", o->prefix, i + 1);
        char path[4200];
        tf_simchg_cart_path(self, e->barcode, path, sizeof path);
        tf_simimg_t *img = tf_simimg_open(path, e->barcode, err);
        if (!img)
            return tf_err_prefix(err, "sim changer: creating cartridge %s: ", e->barcode);
        tf_simimg_destroy(&img);
    }
    return tf_simchg_save(self, err);
}

static tf_changer_type_t
s_type(const char *word)
{
    if (strcmp(word, "transport") == 0)
        return TF_CHANGER_TRANSPORT;
    if (strcmp(word, "slot") == 0)
        return TF_CHANGER_SLOT;
    if (strcmp(word, "ie") == 0)
        return TF_CHANGER_IE;
    if (strcmp(word, "drive") == 0)
        return TF_CHANGER_DRIVE;
    return TF_CHANGER_ALL;
}

/* Checks layout options given in the URL against an existing library. */
static int
s_check(tf_simchg_t *self, tf_err_t *err)
{
    const tf_simchg_opts_t *o = &self->opts;
    const struct {
        const char *name;
        int want;
        tf_changer_type_t type;
    } checks[] = {{"slots", o->slots, TF_CHANGER_SLOT},
                  {"drives", o->drives, TF_CHANGER_DRIVE},
                  {"ie", o->ie, TF_CHANGER_IE}};
    for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
        if (checks[c].want < 0)
            continue;
        int have = 0;
        for (size_t i = 0; i < self->state->count; i++)
            if (self->state->elem[i].type == checks[c].type)
                have++;
        if (have != checks[c].want)
            return tf_err_set(err, TF_ERR_INVALID,
                              "sim changer %s has %d %s but the URL says %s=%d: drop the "
                              "option or delete the state file to make a new library",
                              self->path, have, checks[c].name, checks[c].name, checks[c].want);
    }
    return TF_OK;
}

int
tf_simchg_load(tf_simchg_t *self, tf_err_t *err)
{
    FILE *file = fopen(self->path, "r");
    if (!file && errno == ENOENT)
        return s_create(self, err);
    if (!file)
        return tf_err_errno(err, TF_ERR_IO, errno, "sim changer: cannot open %s", self->path);
    tf_simchg_state_t *st = self->state;
    st->count = 0;
    char line[256];
    int rc = TF_OK;
    int lineno = 0;
    while (rc == TF_OK && fgets(line, sizeof line, file)) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, "tfsimchanger 1", 14) != 0)
                rc = tf_err_set(err, TF_ERR_PROTO, "%s is not a sim changer state file",
                                self->path);
            continue;
        }
        char type[16], barcode[64];
        unsigned address, source;
        if (sscanf(line, "%15s %u %63s %u", type, &address, barcode, &source) != 4
            || s_type(type) == TF_CHANGER_ALL || address > 0xFFFF || source > 0xFFFF
            || strlen(barcode) > TF_CHANGER_BARCODE_MAX || st->count >= TF_SIMCHG_MAX_ELEMS) {
            rc = tf_err_set(err, TF_ERR_PROTO, "sim changer state %s: bad line %d", self->path,
                            lineno);
            break;
        }
        s_add(st, s_type(type), (int) address);
        tf_changer_elem_t *e = &st->elem[st->count - 1];
        e->full = strcmp(barcode, "-") != 0;
        if (e->full)  /* length checked above: fits with its NUL */
            memcpy(e->barcode, barcode, strlen(barcode) + 1);
        e->source_valid = source != 0;
        e->source = (uint16_t) source;
        e->impexp = e->type == TF_CHANGER_IE && e->full && !e->source_valid;
    }
    fclose(file);
    if (rc == TF_OK && lineno == 0)
        rc = tf_err_set(err, TF_ERR_PROTO, "sim changer state %s is empty", self->path);
    return rc == TF_OK ? s_check(self, err) : rc;
}

int
tf_simchg_save(tf_simchg_t *self, tf_err_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", self->path);
    FILE *file = fopen(tmp, "w");
    if (!file)
        return tf_err_errno(err, TF_ERR_IO, errno, "sim changer: cannot write %s", tmp);
    fprintf(file, "tfsimchanger 1\n");
    for (size_t i = 0; i < self->state->count; i++) {
        const tf_changer_elem_t *e = &self->state->elem[i];
        fprintf(file, "%s %u %s %u\n", tf_changer_type_name(e->type), e->address,
                e->full && e->barcode[0] ? e->barcode : "-",
                e->source_valid ? e->source : 0u);
    }
    bool ok = fflush(file) == 0 && fsync(fileno(file)) == 0;
    ok = (fclose(file) == 0) && ok;
    if (!ok || rename(tmp, self->path) != 0) {
        int e = errno;
        unlink(tmp);
        return tf_err_errno(err, TF_ERR_IO, e, "sim changer: cannot save %s", self->path);
    }
    return TF_OK;
}
