/*  tf_drive_track - position tracking with a map of passed filemarks. */
#include "tf_drive_track.h"

#include <stdlib.h>
#include <string.h>

struct _tf_drive_track_t {
    tf_drive_pos_t pos;
    /* marks[i] = object number of the filemark that ends tape file i, for i < nmarks. */
    uint64_t *marks;
    size_t nmarks;
    size_t alloc;
};

tf_drive_track_t *
tf_drive_track_new(void)
{
    tf_drive_track_t *self = calloc(1, sizeof *self);
    return self;
}

void
tf_drive_track_destroy(tf_drive_track_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->marks);
        free(*self_p);
        *self_p = NULL;
    }
}

void
tf_drive_track_lost(tf_drive_track_t *self)
{
    memset(&self->pos, 0, sizeof self->pos);
}

void
tf_drive_track_forget_tape(tf_drive_track_t *self)
{
    memset(&self->pos, 0, sizeof self->pos);
    self->nmarks = 0;
}

void
tf_drive_track_bot(tf_drive_track_t *self)
{
    tf_drive_pos_t *p = &self->pos;
    memset(p, 0, sizeof *p);
    p->file_known = p->block_known = p->object_known = true;
    p->bot = true;
}

/* Records the filemark ending file `file` at `object` (keeping the map contiguous). */
static void
s_record_mark(tf_drive_track_t *self, uint64_t file, uint64_t object)
{
    if (file < self->nmarks) {
        if (self->marks[file] != object)
            self->nmarks = (size_t) file; /* the tape changed under us: forget what follows */
        else
            return;
    }
    if (file != self->nmarks)
        return;
    if (self->nmarks == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 64;
        uint64_t *marks = realloc(self->marks, alloc * sizeof *marks);
        if (!marks)
            return; /* the map is an optimisation; positions stay correct without it */
        self->marks = marks;
        self->alloc = alloc;
    }
    self->marks[self->nmarks++] = object;
}

bool
tf_drive_track_file_start(tf_drive_track_t *self, uint64_t file, uint64_t *object)
{
    if (file == 0) {
        *object = 0;
        return true;
    }
    if (file - 1 < self->nmarks) {
        *object = self->marks[file - 1] + 1;
        return true;
    }
    return false;
}

bool
tf_drive_track_file_length(tf_drive_track_t *self, uint64_t file, uint64_t *blocks)
{
    uint64_t start;
    if (file >= self->nmarks || !tf_drive_track_file_start(self, file, &start))
        return false;
    *blocks = self->marks[file] - start;
    return true;
}

/* Fills in block/object from the map where they became unknown. */
static void
s_complete(tf_drive_track_t *self)
{
    tf_drive_pos_t *p = &self->pos;
    uint64_t start;
    if (!p->file_known)
        return;
    if (p->object_known && !p->block_known && tf_drive_track_file_start(self, p->file, &start)
        && p->object >= start) {
        p->block = p->object - start;
        p->block_known = true;
    }
    if (!p->object_known && p->block_known && tf_drive_track_file_start(self, p->file, &start)) {
        p->object = start + p->block;
        p->object_known = true;
    }
}

void
tf_drive_track_blocks(tf_drive_track_t *self, int64_t n)
{
    tf_drive_pos_t *p = &self->pos;
    p->eod = false;
    p->source = TF_DRIVE_POS_TRACKED;
    if (n < 0 && p->block_known && (uint64_t) -n > p->block)
        p->block_known = false;
    else if (p->block_known)
        p->block = (uint64_t) ((int64_t) p->block + n);
    if (n < 0 && p->object_known && (uint64_t) -n > p->object)
        p->object_known = false;
    else if (p->object_known)
        p->object = (uint64_t) ((int64_t) p->object + n);
    s_complete(self);
    p->bot = p->object_known && p->object == 0;
}

void
tf_drive_track_filemark_forward(tf_drive_track_t *self, bool at_mark)
{
    tf_drive_pos_t *p = &self->pos;
    p->eod = false;
    p->bot = false;
    p->source = TF_DRIVE_POS_TRACKED;
    if (at_mark && p->file_known && p->object_known)
        s_record_mark(self, p->file, p->object);
    uint64_t start;
    if (p->file_known) {
        p->file++;
        if (tf_drive_track_file_start(self, p->file, &start)) {
            p->object = start;
            p->object_known = true;
        } else if (at_mark && p->object_known) {
            p->object++;
        } else {
            p->object_known = false;
        }
    } else if (at_mark && p->object_known) {
        p->object++;
    } else {
        p->object_known = false;
    }
    p->block = 0;
    p->block_known = p->file_known;
}

void
tf_drive_track_filemark_backward(tf_drive_track_t *self, bool at_mark)
{
    tf_drive_pos_t *p = &self->pos;
    p->eod = false;
    p->bot = false;
    p->source = TF_DRIVE_POS_TRACKED;
    if (at_mark && p->object_known && p->object > 0)
        p->object--; /* now right before the filemark */
    else
        p->object_known = false;
    if (p->file_known && p->file > 0) {
        p->file--;
        if (p->file < self->nmarks) {
            p->object = self->marks[p->file];
            p->object_known = true;
        }
    } else {
        p->file_known = false;
    }
    p->block_known = false;
    s_complete(self);
}

void
tf_drive_track_wrote_blocks(tf_drive_track_t *self, uint64_t n)
{
    tf_drive_pos_t *p = &self->pos;
    if (p->file_known && self->nmarks > p->file)
        self->nmarks = (size_t) p->file;
    tf_drive_track_blocks(self, (int64_t) n);
    p->eod = true;
}

void
tf_drive_track_wrote_filemarks(tf_drive_track_t *self, uint64_t n)
{
    tf_drive_pos_t *p = &self->pos;
    if (p->file_known && self->nmarks > p->file)
        self->nmarks = (size_t) p->file;
    for (uint64_t i = 0; i < n; i++)
        tf_drive_track_filemark_forward(self, true);
    p->eod = true;
}

void
tf_drive_track_forget_block(tf_drive_track_t *self)
{
    self->pos.block_known = false;
    self->pos.object_known = false;
    self->pos.bot = false;
}

void
tf_drive_track_eod(tf_drive_track_t *self, bool at_eod)
{
    self->pos.eod = at_eod;
}

void
tf_drive_track_from_drive(tf_drive_track_t *self, uint64_t object, int64_t file, bool bot)
{
    tf_drive_pos_t *p = &self->pos;
    if (p->object_known && p->object != object)
        p->block_known = false; /* our count was off: trust the drive */
    else if (!p->object_known)
        p->block_known = false;
    p->object = object;
    p->object_known = true;
    if (file >= 0) {
        if (!p->file_known || p->file != (uint64_t) file)
            p->block_known = false;
        p->file = (uint64_t) file;
        p->file_known = true;
    }
    p->bot = bot;
    p->source = TF_DRIVE_POS_DRIVE;
    s_complete(self);
}

void
tf_drive_track_at_object(tf_drive_track_t *self, uint64_t object)
{
    tf_drive_pos_t *p = &self->pos;
    memset(p, 0, sizeof *p);
    p->object = object;
    p->object_known = true;
    p->bot = object == 0;
    for (size_t i = 0; i < self->nmarks; i++) {
        if (object <= self->marks[i]) {
            p->file = i;
            p->file_known = true;
            break;
        }
    }
    if (!p->file_known && (self->nmarks == 0 || object == 0)) {
        if (object == 0) {
            p->file_known = true;
            p->file = 0;
        }
    }
    s_complete(self);
}

void
tf_drive_track_get(tf_drive_track_t *self, tf_drive_pos_t *pos)
{
    *pos = self->pos;
}
