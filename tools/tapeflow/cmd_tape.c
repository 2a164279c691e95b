/*  cmd_tape - `tapeflow tape label|info|dump`: volume labels and raw access to tape files.

    These open the drive directly (not through the tape writer), so they work while the stack
    is down and between the tape writer's items; a drive another process holds is reported as
    busy with the holder named.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tapefile.h"
#include "tf_drive.h"
#include "tf_drive_resolve.h"
#include "tf_fs.h"
#include "tf_json.h"
#include "tf_label.h"
#include "tf_log.h"

typedef struct {
    const char *sub;
    const char *drive;
    const char *label;
    const char *pool;
    bool force;
    bool json;
    bool have_file;
    uint64_t file;
} s_args_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow tape label DRIVE --label NAME --pool POOL [--force] [--json]\n"
            "       tapeflow tape info DRIVE [--json]\n"
            "       tapeflow tape dump DRIVE --file N > archive.tar.zst\n"
            "label  writes a volume label on a blank tape; a tape that has a label or data is\n"
            "       refused unless --force (which loses its contents).\n"
            "info   shows the label on the tape, what kind of tape it is and how many tape files it holds.\n"
            "dump   writes the archive data of tape file N (1 = first archive) to stdout, exactly as\n"
            "       staged: pipe it into 'tar --zstd -tvf -' (see docs/tape-format.md).\n"
            "DRIVE is a drive name from the config (drives/NAME/url), serial:XYZ, or a URL\n"
            "(sim:/path/tape.img, sg:/dev/sgN, iscsi://...).\n");
}

static int
s_parse(int argc, char **argv, bool json, s_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->json = json;
    if (argc < 2)
        return cli_usage_error("tape", "which tape command? label, info or dump");
    a->sub = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--json") == 0)
            a->json = true;
        else if (strcmp(arg, "--force") == 0)
            a->force = true;
        else if (strcmp(arg, "--label") == 0 && value) {
            a->label = value;
            i++;
        } else if (strcmp(arg, "--pool") == 0 && value) {
            a->pool = value;
            i++;
        } else if (strcmp(arg, "--file") == 0 && value) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(value, &end, 10);
            if (errno || !end || *end || value[0] == '-')
                return cli_usage_error("tape", "--file wants a tape file number, not '%s'", value);
            a->file = n;
            a->have_file = true;
            i++;
        } else if (arg[0] == '-')
            return cli_usage_error("tape", "unknown or incomplete option '%s'", arg);
        else if (!a->drive)
            a->drive = arg;
        else
            return cli_usage_error("tape", "unexpected argument '%s'", arg);
    }
    if (!a->drive)
        return cli_usage_error("tape", "name the drive (e.g. 'tapeflow tape %s tape0')", a->sub);
    return CLI_EXIT_OK;
}

/* A simulated drive's image lives in a file: create its folder (e.g. ${home}/tapes) so the
   default configuration works on a fresh machine. */
static void
s_prepare_sim(const char *url)
{
    if (strncmp(url, "sim:", 4) != 0)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s", url + 4);
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    tf_err_t err = {0};
    if (path[0] && tf_fs_mkdir_parent(path, &err) != TF_OK)
        tf_log_warn("%s", err.message);
}

/* Opens and readies the drive; prints why not. */
static tf_drive_t *
s_open(cli_t *cli, const char *name, char *url, size_t size)
{
    tf_err_t err = {0};
    if (tf_drive_resolve(cli->cfg, name, "/sys", "/dev", url, size, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape: drive %s: %s\n", name, err.message);
        return NULL;
    }
    s_prepare_sim(url);
    tf_drive_t *drive = tf_drive_open(url, &err);
    if (!drive) {
        if (err.code == TF_ERR_BUSY)
            fprintf(stderr, "tapeflow tape: drive %s is in use by another process: %s (the tape "
                            "writer holds its drive while it writes or restores an archive; try "
                            "again when it is idle)\n", name, err.message);
        else
            fprintf(stderr, "tapeflow tape: drive %s: %s\n", name, err.message);
        return NULL;
    }
    int rc = tf_drive_wait_ready(drive, 120000, &err);
    if (rc == TF_OK)
        rc = tf_drive_set_variable(drive, &err);
    if (rc != TF_OK) {
        fprintf(stderr, "tapeflow tape: drive %s: %s\n", name, err.message);
        tf_drive_destroy(&drive);
    }
    return drive;
}

static void
s_json_label(tf_json_t *json, const tf_label_info_t *info)
{
    tf_json_str(json, "kind", tf_label_kind_name(info->kind));
    tf_json_str(json, "found", info->found);
    if (info->kind != TF_LABEL_TAPEFLOW)
        return;
    const tf_label_t *l = &info->label;
    tf_json_str(json, "label", l->label);
    tf_json_str(json, "pool", l->pool);
    tf_json_str(json, "media_type", l->media_type);
    tf_json_str(json, "created", l->created);
    tf_json_str(json, "expires", l->expires[0] ? l->expires : NULL);
    tf_json_int(json, "volume_sequence", (int64_t) l->sequence);
    tf_json_str(json, "set_id", l->set_id[0] ? l->set_id : NULL);
    tf_json_str(json, "previous_volume", l->previous[0] ? l->previous : NULL);
    tf_json_str(json, "software", l->software);
}

static void
s_print_json(tf_json_t *json)
{
    const char *text = tf_json_text(json);
    printf("%s\n", text ? text : "{}");
}

static int
s_label(cli_t *cli, const s_args_t *a)
{
    if (!a->label || !a->pool)
        return cli_usage_error("tape", "label needs --label NAME and --pool POOL");
    tf_err_t err = {0};
    tf_label_t label;
    if (tf_label_init(&label, a->label, a->pool, NULL, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape label: %s\n", err.message);
        return CLI_EXIT_USAGE;
    }
    char url[1024];
    tf_drive_t *drive = s_open(cli, a->drive, url, sizeof url);
    if (!drive)
        return CLI_EXIT_FAIL;
    int exit = CLI_EXIT_FAIL;
    tf_label_info_t before;
    if (tf_label_read(drive, &before, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape label: drive %s: %s\n", a->drive, err.message);
        goto done;
    }
    if (before.kind != TF_LABEL_BLANK && !a->force) {
        if (before.kind == TF_LABEL_TAPEFLOW)
            fprintf(stderr, "tapeflow tape label: tape in %s is labelled %s (pool %s); use --force "
                            "to relabel and lose its contents\n",
                    a->drive, before.label.label, before.label.pool);
        else
            fprintf(stderr, "tapeflow tape label: tape in %s holds %s; use --force to label it and "
                            "lose its contents\n", a->drive, before.found);
        goto done;
    }
    tf_drive_medium_t medium;
    if (strncmp(url, "sim:", 4) == 0)
        snprintf(label.media_type, sizeof label.media_type, "sim");
    else if (tf_drive_medium_status(drive, &medium, &err) == TF_OK)
        snprintf(label.media_type, sizeof label.media_type, "density 0x%02x", medium.density);
    tf_label_info_t after;
    if (tf_label_write(drive, &label, &err) != TF_OK || tf_label_read(drive, &after, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape label: drive %s: %s\n", a->drive, err.message);
        goto done;
    }
    if (after.kind != TF_LABEL_TAPEFLOW || strcmp(after.label.label, label.label) != 0) {
        fprintf(stderr, "tapeflow tape label: drive %s: the label read back is %s, not what was "
                        "written: check the drive and the tape\n", a->drive, after.found);
        goto done;
    }
    if (a->json) {
        tf_json_t *json = tf_json_new();
        if (json) {
            tf_json_object_begin(json, NULL);
            tf_json_str(json, "drive", a->drive);
            tf_json_str(json, "url", url);
            tf_json_str(json, "previous", tf_label_kind_name(before.kind));
            s_json_label(json, &after);
            tf_json_object_end(json);
            s_print_json(json);
            tf_json_destroy(&json);
        }
    } else
        printf("labelled the tape in %s as %s (pool %s)%s\n", a->drive, label.label, label.pool,
               before.kind == TF_LABEL_BLANK ? "" : "; its previous contents are gone");
    exit = CLI_EXIT_OK;
done:
    tf_drive_destroy(&drive);
    return exit;
}

/* Tape files on the tape (the label is file 0); an unterminated last file counts. */
static int
s_count_files(tf_drive_t *drive, uint64_t *files, tf_err_t *err)
{
    int rc = tf_drive_space(drive, TF_DRIVE_SPACE_EOD, 0, err);
    if (rc != TF_OK)
        return rc;
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    if (!pos.file_known)
        return tf_err_set(err, TF_ERR_DEVICE, "the drive cannot tell how many tape files there are");
    *files = pos.file + (pos.block_known && pos.block > 0 ? 1 : 0);
    return TF_OK;
}

static int
s_info(cli_t *cli, const s_args_t *a)
{
    char url[1024];
    tf_drive_t *drive = s_open(cli, a->drive, url, sizeof url);
    if (!drive)
        return CLI_EXIT_FAIL;
    tf_err_t err = {0};
    tf_label_info_t info;
    uint64_t files = 0;
    int rc = tf_label_read(drive, &info, &err);
    if (rc == TF_OK && info.kind != TF_LABEL_BLANK)
        rc = s_count_files(drive, &files, &err);
    tf_drive_destroy(&drive);
    if (rc != TF_OK) {
        fprintf(stderr, "tapeflow tape info: drive %s: %s\n", a->drive, err.message);
        return CLI_EXIT_FAIL;
    }
    uint64_t archives = info.kind == TF_LABEL_TAPEFLOW && files > 0 ? files - 1 : 0;
    if (a->json) {
        tf_json_t *json = tf_json_new();
        if (!json)
            return CLI_EXIT_FAIL;
        tf_json_object_begin(json, NULL);
        tf_json_str(json, "drive", a->drive);
        tf_json_str(json, "url", url);
        s_json_label(json, &info);
        tf_json_int(json, "tape_files", (int64_t) files);
        if (info.kind == TF_LABEL_TAPEFLOW)
            tf_json_int(json, "archives", (int64_t) archives);
        tf_json_object_end(json);
        s_print_json(json);
        tf_json_destroy(&json);
        return CLI_EXIT_OK;
    }
    printf("drive       %s (%s)\n", a->drive, url);
    printf("tape        %s: %s\n", tf_label_kind_name(info.kind), info.found);
    if (info.kind == TF_LABEL_TAPEFLOW) {
        const tf_label_t *l = &info.label;
        printf("label       %s\n", l->label);
        printf("pool        %s\n", l->pool);
        printf("media type  %s\n", l->media_type[0] ? l->media_type : "-");
        printf("created     %s\n", l->created);
        printf("expires     %s\n", l->expires[0] ? l->expires : "never");
        printf("sequence    %" PRIu64 "%s%s\n", l->sequence, l->set_id[0] ? " of set " : "", l->set_id);
        printf("written by  %s\n", l->software);
        printf("tape files  %" PRIu64 " (the label and %" PRIu64 " archive%s)\n", files, archives,
               archives == 1 ? "" : "s");
    } else
        printf("tape files  %" PRIu64 "\n", files);
    return CLI_EXIT_OK;
}

static int
s_dump(cli_t *cli, const s_args_t *a)
{
    if (!a->have_file)
        return cli_usage_error("tape", "dump needs --file N (1 is the first archive)");
    if (a->file == 0) {
        fprintf(stderr, "tapeflow tape dump: tape file 0 is the volume label; archives start at "
                        "tape file 1 (see 'tapeflow tape info %s')\n", a->drive);
        return CLI_EXIT_USAGE;
    }
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "tapeflow tape dump: refusing to write binary archive data to a terminal; "
                        "redirect it ('> archive.tar.zst') or pipe it ('| tar --zstd -tvf -')\n");
        return CLI_EXIT_USAGE;
    }
    char url[1024];
    tf_drive_t *drive = s_open(cli, a->drive, url, sizeof url);
    if (!drive)
        return CLI_EXIT_FAIL;
    tf_err_t err = {0};
    int exit = CLI_EXIT_FAIL;
    tapefile_reader_t *reader = tapefile_reader_open(drive, a->file, &err);
    if (!reader) {
        fprintf(stderr, "tapeflow tape dump: drive %s: %s\n", a->drive, err.message);
        tf_drive_destroy(&drive);
        return CLI_EXIT_FAIL;
    }
    for (;;) {
        const void *data;
        size_t len;
        if (tapefile_reader_read(reader, &data, &len, &err) != TF_OK) {
            fprintf(stderr, "tapeflow tape dump: drive %s: %s\n", a->drive, err.message);
            goto done;
        }
        if (len == 0)
            break;
        if (fwrite(data, 1, len, stdout) != len) {
            fprintf(stderr, "tapeflow tape dump: cannot write to stdout: %s\n", strerror(errno));
            goto done;
        }
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "tapeflow tape dump: cannot write to stdout: %s\n", strerror(errno));
        goto done;
    }
    tapefile_stats_t st;
    if (tapefile_reader_finish(reader, &st, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape dump: drive %s: %s\n", a->drive, err.message);
        goto done;
    }
    exit = CLI_EXIT_OK;
done:
    tapefile_reader_destroy(&reader);
    tf_drive_destroy(&drive);
    return exit;
}

int
cmd_tape(cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
                      || strcmp(argv[1], "help") == 0)) {
        s_usage(stdout);
        return CLI_EXIT_OK;
    }
    s_args_t a;
    int rc = s_parse(argc, argv, cli->json, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (strcmp(a.sub, "label") == 0)
        return s_label(cli, &a);
    if (strcmp(a.sub, "info") == 0)
        return s_info(cli, &a);
    if (strcmp(a.sub, "dump") == 0)
        return s_dump(cli, &a);
    return cli_usage_error("tape", "unknown tape command '%s' (label, info or dump)", a.sub);
}
