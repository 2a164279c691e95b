/*  tf_schedule - one schedule of the configuration (see tf_schedule.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_schedule.h"
#include "tf_hostpath.h"

#define S_MAX_RULES 16
#define S_MAX_SOURCES 256

typedef struct {
    char level[16];
    tf_calendar_t *days;    /* NULL: the catch-all */
} s_rule_t;

struct _tf_level_rules_t {
    s_rule_t rules[S_MAX_RULES];
    size_t count;
};

struct _tf_schedule_t {
    char *name;
    char *sources[S_MAX_SOURCES];
    size_t sources_count;
    char *pool;             /* NULL: backup/pool */
    tf_calendar_t *calendar;
    tf_tz_t *tz;
    tf_level_rules_t *rules;
    char *level_text;
    tf_catch_up_t catch_up;
    int64_t within_ms;
    char *catch_up_text;
    tf_overlap_t overlap;
    bool enabled;
};

static const char *const s_levels[] = {"full", "differential", "incremental"};

/* The text with the blanks around it cut (in place). */
static char *
s_trim(char *text)
{
    while (isspace((unsigned char) *text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char) text[n - 1]))
        text[--n] = '\0';
    return text;
}

bool
tf_level_known(const char *word)
{
    for (size_t i = 0; word && i < sizeof s_levels / sizeof s_levels[0]; i++)
        if (strcmp(word, s_levels[i]) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ level rules ------- */

void
tf_level_rules_destroy(tf_level_rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_level_rules_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        tf_calendar_destroy(&self->rules[i].days);
    free(self);
    *self_p = NULL;
}

/* One "LEVEL" or "LEVEL on DAYS" into rule. */
static int
s_rule_parse(char *text, const char *key, const char *whole, s_rule_t *rule, tf_err_t *err)
{
    char *level = s_trim(text);
    char *days = NULL;
    char *sep = level;
    while (*sep && !isspace((unsigned char) *sep))
        sep++;
    if (*sep) {
        *sep++ = '\0';
        char *rest = s_trim(sep);
        if (strncmp(rest, "on", 2) != 0 || (rest[2] && !isspace((unsigned char) rest[2])))
            return tf_err_set(err, TF_ERR_INVALID,
                              "%s = '%s': rule '%s %s' needs 'on' after the level ('LEVEL on DAYS', "
                              "e.g. 'full on Sun *-*-01..07')", key, whole, level, rest);
        days = s_trim(rest + 2);
        if (!*days)
            return tf_err_set(err, TF_ERR_INVALID, "%s = '%s': rule '%s on' names no days (e.g. 'on Sun')",
                              key, whole, level);
    }
    if (!tf_level_known(level))
        return tf_err_set(err, TF_ERR_INVALID,
                          "%s = '%s': unknown level '%s' (use full, differential or incremental)", key, whole,
                          level);
    snprintf(rule->level, sizeof rule->level, "%s", level);
    if (days) {
        tf_err_t cerr = {0};
        rule->days = tf_calendar_new(days, &cerr);
        if (!rule->days)
            return tf_err_set(err, TF_ERR_INVALID, "%s = '%s': %s", key, whole, cerr.message);
    }
    return TF_OK;
}

tf_level_rules_t *
tf_level_rules_new(const char *text, const char *key, tf_err_t *err)
{
    tf_level_rules_t *self = calloc(1, sizeof *self);
    char *copy = strdup(text ? text : "");
    if (!self || !copy) {
        free(self);
        free(copy);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
        return NULL;
    }
    int rc = TF_OK;
    char *save = NULL;
    for (char *part = strtok_r(copy, ";", &save); part && rc == TF_OK; part = strtok_r(NULL, ";", &save)) {
        if (!*s_trim(part))
            continue;
        if (self->count > 0 && !self->rules[self->count - 1].days)
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "%s = '%s': a rule follows the catch-all '%s' and would never apply; "
                            "put the rule without 'on' last", key, text, self->rules[self->count - 1].level);
        else if (self->count == S_MAX_RULES)
            rc = tf_err_set(err, TF_ERR_INVALID, "%s = '%s': more than %d rules", key, text, S_MAX_RULES);
        else {
            rc = s_rule_parse(part, key, text, &self->rules[self->count], err);
            self->count++;
        }
    }
    if (rc == TF_OK && (self->count == 0 || self->rules[self->count - 1].days))
        rc = tf_err_set(err, TF_ERR_INVALID,
                        "%s = '%s': the last rule must be a level without 'on' (the catch-all), e.g. "
                        "'full on Sun; incremental'", key, text);
    free(copy);
    if (rc != TF_OK)
        tf_level_rules_destroy(&self);
    return self;
}

const char *
tf_level_rules_level(const tf_level_rules_t *self, const tf_tz_t *tz, int64_t instant_ms)
{
    for (size_t i = 0; i < self->count; i++)
        if (!self->rules[i].days || tf_calendar_matches_day(self->rules[i].days, tz, instant_ms))
            return self->rules[i].level;
    return "full";   /* not reached: the last rule is the catch-all */
}

/* ------------------------------------------------------------------ schedule ---------- */

zlist_t *
tf_schedule_names(tf_config_t *cfg)
{
    return tf_config_children(cfg, "schedules");
}

/* catch_up: once | skip | within DURATION. */
static int
s_catch_up_parse(tf_schedule_t *self, const char *key, const char *text, tf_err_t *err)
{
    char *copy = strdup(text);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
    char *word = s_trim(copy);
    int rc = TF_OK;
    if (strcmp(word, "once") == 0)
        self->catch_up = TF_CATCH_UP_ONCE;
    else if (strcmp(word, "skip") == 0)
        self->catch_up = TF_CATCH_UP_SKIP;
    else if (strncmp(word, "within", 6) == 0 && isspace((unsigned char) word[6])) {
        self->catch_up = TF_CATCH_UP_WITHIN;
        if (tf_config_parse_duration(s_trim(word + 6), 1000, &self->within_ms) != 0 || self->within_ms <= 0)
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "%s = '%s': 'within' needs a duration above zero (90s, 30m, 2h, 1d; a bare "
                            "number is seconds)", key, text);
    } else
        rc = tf_err_set(err, TF_ERR_INVALID, "%s = '%s': use once, skip or 'within DURATION' (within 2h)", key,
                        text);
    if (rc == TF_OK)
        self->catch_up_text = strdup(word);
    free(copy);
    if (rc == TF_OK && !self->catch_up_text)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
    return rc;
}

/* paths: comma-separated "/path" or "HOST:/path", each split by tf_hostpath_parse (the rule
   tapeflow backup and the job start apply), so a bad host is refused here, not at every run. */
static int
s_sources_parse(tf_schedule_t *self, tf_config_t *cfg, const char *key, const char *text, tf_err_t *err)
{
    char *copy = strdup(text);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
    int rc = TF_OK;
    char *save = NULL;
    for (char *part = strtok_r(copy, ",", &save); part && rc == TF_OK; part = strtok_r(NULL, ",", &save)) {
        char *path = s_trim(part);
        if (!*path)
            continue;
        char host[256], abs[PATH_MAX];
        tf_err_t herr = {0};
        if (tf_hostpath_parse(cfg, path, host, sizeof host, abs, sizeof abs, &herr) != TF_OK)
            rc = tf_err_set(err, TF_ERR_INVALID, "%s: %s", key, herr.message);
        else if (abs[0] != '/')
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "%s: '%s' is not an absolute path (write /path for this host's, HOST:/path "
                            "for another host's)", key, path);
        else if (self->sources_count == S_MAX_SOURCES)
            rc = tf_err_set(err, TF_ERR_INVALID, "%s: more than %d paths", key, S_MAX_SOURCES);
        else if (!(self->sources[self->sources_count++] = strdup(path)))
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
    }
    free(copy);
    if (rc == TF_OK && self->sources_count == 0)
        rc = tf_err_set(err, TF_ERR_INVALID,
                        "%s is not set: the schedule backs up nothing; set it to the paths to back up "
                        "(/srv/data, HOST:/path, separated by commas)", key);
    return rc;
}

tf_schedule_t *
tf_schedule_new(tf_config_t *cfg, const char *name, tf_err_t *err)
{
    tf_schedule_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory reading schedule %s", name);
        return NULL;
    }
    char key[512];
    tf_err_t cerr = {0};
    int rc = TF_OK;
#define S_KEY(k) (snprintf(key, sizeof key, "schedules/%s/" k, name), key)
    const char *paths = tf_config_get(cfg, S_KEY("paths"));
    rc = s_sources_parse(self, cfg, key, paths ? paths : "", err);
    if (rc == TF_OK) {
        const char *cal = tf_config_str(cfg, S_KEY("calendar"));
        self->calendar = tf_calendar_new(cal, &cerr);
        if (!self->calendar)
            rc = tf_err_set(err, TF_ERR_INVALID, "%s: %s", key, cerr.message);
    }
    if (rc == TF_OK) {
        self->tz = tf_tz_new(tf_config_str(cfg, S_KEY("timezone")), &cerr);
        if (!self->tz)
            rc = tf_err_set(err, TF_ERR_INVALID, "%s: %s", key, cerr.message);
    }
    if (rc == TF_OK) {
        const char *text = tf_config_str(cfg, S_KEY("level"));
        self->rules = tf_level_rules_new(text, key, err);
        self->level_text = strdup(text);
        if (!self->rules)
            rc = err ? err->code : TF_ERR_INVALID;
        else if (!self->level_text)
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
    }
    if (rc == TF_OK) {
        const char *text = tf_config_str(cfg, S_KEY("catch_up"));
        rc = s_catch_up_parse(self, key, text, err);
    }
    if (rc == TF_OK) {
        /* An enum of the key table: checked when the configuration was opened. */
        self->overlap = strcmp(tf_config_str(cfg, S_KEY("overlap")), "queue") == 0 ? TF_OVERLAP_QUEUE
                                                                                     : TF_OVERLAP_SKIP;
        self->enabled = tf_config_bool(cfg, S_KEY("enabled"));
        const char *pool = tf_config_str(cfg, S_KEY("pool"));
        if (*pool && !(self->pool = strdup(pool)))
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", key);
    }
#undef S_KEY
    if (rc != TF_OK)
        tf_schedule_destroy(&self);
    return self;
}

void
tf_schedule_destroy(tf_schedule_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_schedule_t *self = *self_p;
    for (size_t i = 0; i < self->sources_count; i++)
        free(self->sources[i]);
    tf_calendar_destroy(&self->calendar);
    tf_tz_destroy(&self->tz);
    tf_level_rules_destroy(&self->rules);
    free(self->level_text);
    free(self->catch_up_text);
    free(self->pool);
    free(self->name);
    free(self);
    *self_p = NULL;
}

const char *
tf_schedule_name(const tf_schedule_t *self)
{
    return self->name;
}

size_t
tf_schedule_sources_count(const tf_schedule_t *self)
{
    return self->sources_count;
}

const char *
tf_schedule_source(const tf_schedule_t *self, size_t index)
{
    return index < self->sources_count ? self->sources[index] : NULL;
}

const char *
tf_schedule_pool(const tf_schedule_t *self)
{
    return self->pool;
}

const tf_calendar_t *
tf_schedule_calendar(const tf_schedule_t *self)
{
    return self->calendar;
}

const tf_tz_t *
tf_schedule_tz(const tf_schedule_t *self)
{
    return self->tz;
}

tf_catch_up_t
tf_schedule_catch_up(const tf_schedule_t *self, int64_t *within_ms)
{
    if (within_ms)
        *within_ms = self->within_ms;
    return self->catch_up;
}

const char *
tf_schedule_catch_up_text(const tf_schedule_t *self)
{
    return self->catch_up_text;
}

tf_overlap_t
tf_schedule_overlap(const tf_schedule_t *self)
{
    return self->overlap;
}

bool
tf_schedule_enabled(const tf_schedule_t *self)
{
    return self->enabled;
}

const char *
tf_schedule_level_text(const tf_schedule_t *self)
{
    return self->level_text;
}

int
tf_schedule_next(const tf_schedule_t *self, int64_t after_ms, int64_t *next_ms, tf_err_t *err)
{
    return tf_calendar_next(self->calendar, self->tz, after_ms, next_ms, err);
}

const char *
tf_schedule_level(const tf_schedule_t *self, int64_t instant_ms)
{
    return tf_level_rules_level(self->rules, self->tz, instant_ms);
}
