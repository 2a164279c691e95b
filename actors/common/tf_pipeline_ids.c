/*  tf_pipeline_ids - deterministic pipeline ids (see tf_pipeline_ids.h). */
#include "tf_pipeline_ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *
tf_id_archive(char *buf, size_t size, const char *job_id, uint64_t group_no)
{
    snprintf(buf, size, "%s-g%05" PRIu64, job_id, group_no);
    return buf;
}

const char *
tf_id_join(char *buf, size_t size, const char *base, const char *suffix)
{
    snprintf(buf, size, "%s%s", base, suffix);
    return buf;
}

const char *
tf_id_files(char *buf, size_t size, const char *archive_id, uint64_t part)
{
    snprintf(buf, size, "%s-files-%" PRIu64, archive_id, part);
    return buf;
}

bool
tf_id_safe_name(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > 128 || id[0] == '.' || id[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                  || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool
tf_id_target_name(const char *name)
{
    return tf_id_safe_name(name) && strcmp(name, "tape") != 0;
}

static bool
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool
tf_id_list_next(const char **cursor, char *name, size_t size)
{
    const char *p = *cursor;
    if (!p || !*p)
        return false;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t) (end - p) : strlen(p);
    *cursor = end ? end + 1 : p + len;
    while (len > 0 && s_blank(*p)) {
        p++;
        len--;
    }
    while (len > 0 && s_blank(p[len - 1]))
        len--;
    if (size == 0)
        return true;
    if (len >= size)
        len = 0;  /* never cut: refused as empty */
    memcpy(name, p, len);
    name[len] = '\0';
    return true;
}

bool
tf_id_target_list_ok(const char *list)
{
    char name[TF_ID_MAX];
    for (const char *p = list; tf_id_list_next(&p, name, sizeof name);)
        if (!tf_id_target_name(name))
            return false;
    return true;
}
