/*  tf_log - one-line log records on stderr: time, ident[pid], level, message.

    A process's main calls tf_log_init once; the ident and level are the only process-wide
    logging state. Children started by `tapeflow up` have stderr redirected to their log file.
*/
#ifndef TF_LOG_H_INCLUDED
#define TF_LOG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TF_LOG_DEBUG = 0, TF_LOG_INFO = 1, TF_LOG_WARN = 2, TF_LOG_ERROR = 3 } tf_log_level_t;

void tf_log_init(const char *ident, tf_log_level_t level);
/* Parses "debug", "info", "warn", "error"; returns TF_LOG_INFO for anything else. */
tf_log_level_t tf_log_level_parse(const char *name);
void tf_log(tf_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tf_log_debug(...) tf_log(TF_LOG_DEBUG, __VA_ARGS__)
#define tf_log_info(...) tf_log(TF_LOG_INFO, __VA_ARGS__)
#define tf_log_warn(...) tf_log(TF_LOG_WARN, __VA_ARGS__)
#define tf_log_error(...) tf_log(TF_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
