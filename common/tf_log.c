/*  tf_log - one-line log records on stderr. */
#include "tf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Set once by the process's main before any other thread starts. */
static char s_ident[64] = "tapeflow";
static tf_log_level_t s_level = TF_LOG_INFO;

void
tf_log_init(const char *ident, tf_log_level_t level)
{
    if (ident)
        snprintf(s_ident, sizeof s_ident, "%s", ident);
    s_level = level;
}

tf_log_level_t
tf_log_level_parse(const char *name)
{
    if (!name)
        return TF_LOG_INFO;
    if (strcasecmp(name, "debug") == 0)
        return TF_LOG_DEBUG;
    if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
        return TF_LOG_WARN;
    if (strcasecmp(name, "error") == 0)
        return TF_LOG_ERROR;
    return TF_LOG_INFO;
}

void
tf_log(tf_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[2048];
    int n = snprintf(line, sizeof line, "%s.%03dZ %s[%d] %s: ", stamp, (int) (tv.tv_usec / 1000),
                     s_ident, (int) getpid(), names[level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    if ((size_t) n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    va_end(ap);
    /* One fputs per record keeps lines whole when several threads log. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
    fflush(stderr);
}
