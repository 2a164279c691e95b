/*  tf_main - common start-up of tapeflow programs. */
#include "tf_main.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "tf_fs.h"
#include "tf_log.h"

int
tf_main_init(tf_main_t *m, int argc, char **argv, const char *program, const char *default_name,
             const char *summary)
{
    memset(m, 0, sizeof *m);
    m->program = program;
    m->name = default_name;
    const char *config_path = NULL, *level = NULL;
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"name", required_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:n:l:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'n': m->name = optarg; break;
        case 'l': level = optarg; break;
        case 'h':
            printf("usage: %s [--config FILE] [--name NAME] [--log-level debug|info|warn|error]\n%s\n",
                   program, summary);
            return 0;
        case 'V':
            printf("%s %s\n", program, TAPEFLOW_VERSION);
            return 0;
        default:
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", program, argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", program, argv[optind]);
        return 2;
    }
    tf_err_t err = {0};
    m->config = tf_config_open(config_path, &err);
    if (!m->config) {
        fprintf(stderr, "%s: %s\n", program, err.message);
        return 1;
    }
    tf_log_init(m->name, tf_log_level_parse(level ? level : tf_config_get(m->config, "tapeflow/log_level")));
    return TF_MAIN_CONTINUE;
}

void
tf_main_fini(tf_main_t *m)
{
    tf_config_destroy(&m->config);
}

int
tf_main_prepare_endpoint(const char *endpoint, tf_err_t *err)
{
    if (strncmp(endpoint, "ipc://", 6) != 0)
        return TF_OK;
    const char *path = endpoint + 6;
    struct sockaddr_un sun;
    if (strlen(path) >= sizeof sun.sun_path)
        return tf_err_set(err, TF_ERR_INVALID,
                          "socket path %s is %zu bytes, longer than the %zu a Unix socket allows: "
                          "choose a shorter tapeflow/run folder", path, strlen(path), sizeof sun.sun_path - 1);
    if (*path == '@')  /* abstract namespace: no folder */
        return TF_OK;
    return tf_fs_mkdir_parent(path, err);
}
