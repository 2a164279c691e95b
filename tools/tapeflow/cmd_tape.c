/*  cmd_tape - `tapeflow tape label|info|dump|list|erase`: volume labels, raw access to tape
    files, and volumes, pools and retention (list asks the catalog; label --force and erase
    refuse a tapeflow volume that has not expired).

    These open the drive directly (not through the tape writer), so they work while the stack
    is down and between the tape writer's items; a drive another process holds is reported as
    busy with the holder named.
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opt.h"
#include "cli_jobview.h"
#include "cli_labeller.h"
#include "cli_volume.h"
#include "tapefile.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_drive.h"
#include "tf_drive_resolve.h"
#include "tf_fs.h"
#include "tf_json.h"
#include "tf_label.h"
#include "tf_log.h"
#include "tf_volume.h"

typedef struct {
    const char *sub;
    const char *drive;
    const char *label;
    const char *pool;
    bool force;
    bool json;
    bool have_file;
    uint64_t file;
    const char *expires;      /* label --expires DATE */
    bool yes;                 /* erase --yes */
    int timeout_ms;           /* list --timeout */
} s_args_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow tape label DRIVE --label NAME --pool POOL [--expires DATE] [--force] [--json]\n"
            "       tapeflow tape label --barcodes CHANGER --pool POOL [--json] [--timeout SECONDS]\n"
            "       tapeflow tape info DRIVE [--json]\n"
            "       tapeflow tape dump DRIVE --file N > archive.tar.zst\n"
            "       tapeflow tape list [--pool POOL] [--json] [--timeout SECONDS]\n"
            "       tapeflow tape erase DRIVE [--yes] [--force --label NAME --pool POOL] [--json]\n"
            "       tapeflow tape scan DRIVE [--json] [--timeout SECONDS]\n"
            "       tapeflow tape clear LABEL [--json] [--timeout SECONDS]\n"
            "label  writes a volume label on a blank tape; a tape that has a label or data is\n"
            "       refused unless --force (which loses its contents). --force never overwrites a\n"
            "       tapeflow volume that has not expired. --expires DATE (2027-01-05) keeps the\n"
            "       volume from being overwritten before DATE, whatever its pool's retention.\n"
            "list   every volume the catalog knows: pool, state (appendable, full, expired, error),\n"
            "       expiry, bytes used, last written, errors, tape files, where it is (the\n"
            "       labeller's inventory: slot N, drive D, outside); then each pool. ORPHANS\n"
            "       counts the jobs on other volumes whose restore needs this one (--json lists\n"
            "       them); \"full (held)\": past its expiry but kept for them (chain_retention keep).\n"
            "clear  makes a volume in state error (write errors: the tape writer does not write to\n"
            "       it) appendable again, once the cartridge is known to be good; its error counts\n"
            "       stay. Needs the stack running.\n"
            "erase  erases an expired tapeflow volume and writes its label again (same name and\n"
            "       pool), so it stays labelled; asks first unless --yes. Another program's tape\n"
            "       needs --force and a new --label and --pool.\n"
            "info   shows the label on the tape, what kind of tape it is and how many tape files it holds.\n"
            "dump   writes the archive data of tape file N (1 = first archive) to stdout, exactly as\n"
            "       staged: pipe it into 'tar --zstd -tvf -' (see docs/tape-format.md).\n"
            "scan   rebuilds the catalog rows of the tape (jobs, archives, positions, files) from its\n"
            "       label, headers, trailers and index records; needs the stack running.\n"
            "DRIVE is a drive name from the config (drives/NAME/url), serial:XYZ, or a URL\n"
            "(sim:/path/tape.img, sg:/dev/sgN, iscsi://...).\n");
}

/* argv[0] is the verb ("label"); every verb takes the same options. Returns -1 to go on, else
   the exit status. */
static int
s_parse(int argc, char **argv, bool json, s_args_t *a)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'f'},
        {"yes", no_argument, NULL, 'y'},
        {"expires", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'},
        {"label", required_argument, NULL, 'l'},
        {"pool", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->json = json;
    a->sub = argv[0];
    char command[32];
    snprintf(command, sizeof command, "tape %s", a->sub);
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":yh", options, NULL)) != -1) {
        switch (opt) {
        case 'j': a->json = true; break;
        case 'f': a->force = true; break;
        case 'y': a->yes = true; break;
        case 'e': a->expires = optarg; break;
        case 't': {
            int64_t ms = 0;
            if (cli_opt_seconds("tape", "--timeout", optarg, 1, 86400 * 1000LL, &ms) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            a->timeout_ms = (int) ms;
            break;
        }
        case 'l': a->label = optarg; break;
        case 'p': a->pool = optarg; break;
        case 'F': {
            int64_t n = 0;
            if (cli_opt_int("tape", "--file", optarg, 0, INT64_MAX, "a tape file number", &n) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            a->file = (uint64_t) n;
            a->have_file = true;
            break;
        }
        case 'h': s_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(command, opt, argc, argv);
        }
    }
    if (optind < argc)
        a->drive = argv[optind++];
    if (optind < argc)
        return cli_usage_error("tape", "unexpected argument '%s'", argv[optind]);
    if (!a->drive && strcmp(a->sub, "clear") == 0)
        return cli_usage_error("tape", "name the volume (e.g. 'tapeflow tape clear TF0001')");
    if (!a->drive && strcmp(a->sub, "list") != 0)
        return cli_usage_error("tape", "name the drive (e.g. 'tapeflow tape %s tape0')", a->sub);
    if (a->drive && strcmp(a->sub, "list") == 0)
        return cli_usage_error("tape", "list takes no drive: it shows every volume the catalog knows");
    return -1;
}

/* Opens and readies the drive; prints why not. */
static tf_drive_t *
s_open(cli_t *cli, const char *name, char *url, size_t size)
{
    tf_err_t err = {0};
    if (tf_drive_resolve(cli->cfg, name, "/sys", "/dev", url, size, &err) != TF_OK
        || tf_drive_prepare_sim_folder(url, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape: drive %s: %s\n", name, err.message);
        return NULL;
    }
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
    tf_json_str(json, "volume", l->label);
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

/* --- volumes: expiry, the catalog, the overwrite rule ---------------------------------- */

/* Tells the catalog about a freshly written label (nothing on the volume yet). Best effort. */
static void
s_volume_tell(tf_client_t *client, const char *drive_name, const tf_label_t *label,
              const cli_volume_t *before)
{
    if (!client)
        return;
    int64_t created = 0, floor_ms = 0;
    if (tf_volume_parse_time(label->created, &created) != TF_OK)
        created = tf_clock_wall_ms();
    if (tf_volume_parse_time(label->expires, &floor_ms) != TF_OK)
        floor_ms = 0;
    tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
    msg.cat_volume = (tf_msg_cat_volume_t){
        /* A cartridge with write errors stays out of use until 'tapeflow tape clear'. */
        .label = (char *) label->label, .pool = (char *) label->pool,
        .state = before && before->error ? "error" : "appendable",
        .media_type = label->media_type[0] ? (char *) label->media_type : NULL,
        .created_ms = created, .expires_ms = floor_ms, .tape_files = 1,
        .write_errors = before ? before->write_errors : 0,
        .read_errors = before ? before->read_errors : 0,
        .drive = (char *) drive_name, .time_ms = tf_clock_wall_ms()};
    char id[128];
    snprintf(id, sizeof id, "%s-labelled-%" PRId64, label->label, created);
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", id, NULL, &msg, &result, 5000, &err) != TF_OK)
        fprintf(stderr, "tapeflow tape: the catalog was not told about volume %s (%s); 'tapeflow "
                        "tape list' shows it once the tape writer writes to it\n",
                label->label, err.message);
    else
        tf_msg_clear(&result);
}

/* --expires DATE as the label's ISO 8601 value. */
static int
s_expires_arg(const char *text, char *out, size_t size)
{
    int64_t ms = 0;
    if (!text || tf_volume_parse_time(text, &ms) != TF_OK || ms <= 0)
        return cli_usage_error("tape", "--expires wants a date like 2027-01-05 (or "
                               "2027-01-05T12:00:00Z), not '%s'", text ? text : "");
    tf_volume_format_time(ms, out, size);
    return CLI_EXIT_OK;
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
    if (a->expires && s_expires_arg(a->expires, label.expires, sizeof label.expires) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    char url[1024];
    tf_drive_t *drive = s_open(cli, a->drive, url, sizeof url);
    if (!drive)
        return CLI_EXIT_FAIL;
    int exit = CLI_EXIT_FAIL;
    tf_client_t *client = NULL;
    cli_volume_t facts;
    memset(&facts, 0, sizeof facts);
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
    client = cli_volume_catalog_client(cli->cfg);
    if (before.kind == TF_LABEL_TAPEFLOW) {
        /* --force overrides other programs' labels, never a tapeflow volume's retention. */
        if (cli_volume_facts(cli->cfg, client, drive, &before, &facts, &err) != TF_OK) {
            fprintf(stderr, "tapeflow tape label: drive %s: %s\n", a->drive, err.message);
            goto done;
        }
        if (cli_volume_check_overwrite(before.label.label, &facts, &err) != TF_OK) {
            fprintf(stderr, "tapeflow tape label: %s\n", err.message);
            goto done;
        }
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
    bool same = before.kind == TF_LABEL_TAPEFLOW && strcmp(before.label.label, label.label) == 0;
    s_volume_tell(client, a->drive, &after.label, same ? &facts : NULL);
    if (a->json) {
        tf_json_t *json = tf_json_new();
        if (json) {
            tf_json_document_begin(json);
            tf_json_str(json, "drive", a->drive);
            tf_json_str(json, "url", url);
            tf_json_str(json, "previous", tf_label_kind_name(before.kind));
            s_json_label(json, &after);
            tf_json_object_end(json);
            s_print_json(json);
            tf_json_destroy(&json);
        }
    } else {
        char date[32] = "";
        int64_t floor_ms = 0;
        if (tf_volume_parse_time(label.expires, &floor_ms) == TF_OK && floor_ms > 0)
            tf_volume_format_date(floor_ms, date, sizeof date);
        printf("labelled the tape in %s as %s (pool %s)%s%s%s\n", a->drive, label.label, label.pool,
               before.kind == TF_LABEL_BLANK ? "" : "; its previous contents are gone",
               date[0] ? "; it cannot be overwritten before " : "", date);
    }
    exit = CLI_EXIT_OK;
done:
    tf_client_destroy(&client);
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
        tf_json_document_begin(json);
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

/* Asks on the terminal; false without one (the caller then wants --yes). */
static bool
s_confirm(const char *question)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return false;
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char answer[16] = "";
    if (!fgets(answer, sizeof answer, stdin))
        return false;
    return answer[0] == 'y' || answer[0] == 'Y';
}

/* What `tape erase` will write: for a tapeflow volume its own label again (same name and pool,
   created now, no expiry) once the overwrite rule allows it; for another program's tape the
   --label and --pool given with --force. what names the tape for messages. Returns -1 to go
   on, else the exit status. */
static int
s_erase_plan(cli_t *cli, const s_args_t *a, tf_drive_t *drive, const char *url, tf_client_t *client,
             const tf_label_info_t *before, cli_volume_t *facts, tf_label_t *label, char *what,
             size_t what_size)
{
    tf_err_t err = {0};
    if (before->kind == TF_LABEL_TAPEFLOW) {
        if (a->label || a->pool) {
            fprintf(stderr, "tapeflow tape erase: erase keeps the label %s (pool %s); to give the "
                            "tape another name or pool use 'tapeflow tape label %s --label NAME "
                            "--pool POOL --force'\n", before->label.label, before->label.pool, a->drive);
            return CLI_EXIT_USAGE;
        }
        if (cli_volume_facts(cli->cfg, client, drive, before, facts, &err) != TF_OK) {
            fprintf(stderr, "tapeflow tape erase: drive %s: %s\n", a->drive, err.message);
            return CLI_EXIT_FAIL;
        }
        if (cli_volume_check_overwrite(before->label.label, facts, &err) != TF_OK
            || tf_label_init(label, before->label.label, before->label.pool, before->label.media_type,
                             &err) != TF_OK) {
            fprintf(stderr, "tapeflow tape erase: %s\n", err.message);
            return CLI_EXIT_FAIL;
        }
        uint64_t archives = facts->tape_files > 1 ? facts->tape_files - 1 : 0;
        snprintf(what, what_size, "tape %s in %s (pool %s, %" PRIu64 " archive%s)",
                 before->label.label, a->drive, before->label.pool, archives, archives == 1 ? "" : "s");
        return -1;
    }
    if (!a->force || !a->label || !a->pool) {
        fprintf(stderr, "tapeflow tape erase: the tape in %s holds %s, not a tapeflow volume; "
                        "to erase it and label it for tapeflow add --force --label NAME --pool "
                        "POOL\n", a->drive, before->found);
        return !a->force ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    if (tf_label_init(label, a->label, a->pool, NULL, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape erase: %s\n", err.message);
        return CLI_EXIT_USAGE;
    }
    snprintf(label->media_type, sizeof label->media_type, "%s", strncmp(url, "sim:", 4) == 0 ? "sim" : "");
    snprintf(what, what_size, "the tape in %s (%.200s)", a->drive, before->found);
    return -1;
}

/* Erases the tape and writes label, reading it back into after. */
static int
s_erase_write(const s_args_t *a, tf_drive_t *drive, const tf_label_t *label, tf_label_info_t *after)
{
    tf_err_t err = {0};
    if (tf_drive_rewind(drive, &err) != TF_OK || tf_drive_erase(drive, false, &err) != TF_OK
        || tf_label_write(drive, label, &err) != TF_OK || tf_label_read(drive, after, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape erase: drive %s: %s\n", a->drive, err.message);
        return CLI_EXIT_FAIL;
    }
    if (after->kind != TF_LABEL_TAPEFLOW || strcmp(after->label.label, label->label) != 0) {
        fprintf(stderr, "tapeflow tape erase: drive %s: the label read back is %s, not what was "
                        "written: check the drive and the tape\n", a->drive, after->found);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static void
s_erase_print(const s_args_t *a, const char *url, const tf_label_info_t *before,
              const cli_volume_t *facts, const tf_label_t *label, const tf_label_info_t *after,
              const char *what)
{
    if (!a->json) {
        printf("erased %s; it is labelled %s (pool %s) again and holds no archives\n", what,
               label->label, label->pool);
        return;
    }
    tf_json_t *json = tf_json_new();
    if (!json)
        return;
    tf_json_document_begin(json);
    tf_json_str(json, "drive", a->drive);
    tf_json_str(json, "url", url);
    tf_json_str(json, "previous", tf_label_kind_name(before->kind));
    tf_json_int(json, "archives_erased", (int64_t) (facts->tape_files > 1 ? facts->tape_files - 1 : 0));
    s_json_label(json, after);
    tf_json_object_end(json);
    s_print_json(json);
    tf_json_destroy(&json);
}

static int
s_erase(cli_t *cli, const s_args_t *a)
{
    char url[1024];
    tf_drive_t *drive = s_open(cli, a->drive, url, sizeof url);
    if (!drive)
        return CLI_EXIT_FAIL;
    tf_err_t err = {0};
    int exit = CLI_EXIT_FAIL;
    tf_client_t *client = NULL;
    cli_volume_t facts;
    memset(&facts, 0, sizeof facts);
    tf_label_info_t before, after;
    tf_label_t label;
    char what[300];
    if (tf_label_read(drive, &before, &err) != TF_OK) {
        fprintf(stderr, "tapeflow tape erase: drive %s: %s\n", a->drive, err.message);
        goto done;
    }
    if (before.kind == TF_LABEL_BLANK) {
        fprintf(stderr, "tapeflow tape erase: the tape in %s is blank: nothing to erase (label it "
                        "with 'tapeflow tape label %s --label NAME --pool POOL')\n", a->drive, a->drive);
        goto done;
    }
    client = cli_volume_catalog_client(cli->cfg);
    int rc = s_erase_plan(cli, a, drive, url, client, &before, &facts, &label, what, sizeof what);
    if (rc >= 0) {
        exit = rc;
        goto done;
    }
    if (!a->yes) {
        char question[400];
        snprintf(question, sizeof question, "erase %s? everything on it is lost", what);
        if (!s_confirm(question)) {
            fprintf(stderr, "tapeflow tape erase: not erasing %s: confirm with --yes\n", what);
            goto done;
        }
    }
    if (s_erase_write(a, drive, &label, &after) != CLI_EXIT_OK)
        goto done;
    s_volume_tell(client, a->drive, &after.label, before.kind == TF_LABEL_TAPEFLOW ? &facts : NULL);
    s_erase_print(a, url, &before, &facts, &label, &after, what);
    exit = CLI_EXIT_OK;
done:
    tf_client_destroy(&client);
    tf_drive_destroy(&drive);
    return exit;
}

static const char *
s_ms_text(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0)
        return "-";
    return tf_volume_format_time(ms, buf, size);
}

typedef struct {
    const char *pool;
    size_t volumes, appendable, full, expired, error;
} s_pool_sum_t;

static s_pool_sum_t *
s_pool_find(s_pool_sum_t *sums, size_t *n, size_t cap, const char *pool)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(sums[i].pool, pool) == 0)
            return &sums[i];
    if (*n >= cap)
        return NULL;
    sums[*n] = (s_pool_sum_t){.pool = pool};
    return &sums[(*n)++];
}

/* Pools of `tape list`: those with volumes, then those only configured, then --pool. The sums
   point at pool names in the reply and in configured, which live as long as the list. */
typedef struct {
    s_pool_sum_t *sums;
    size_t count;
    zlist_t *configured;
} s_pool_list_t;

static void
s_pool_list_free(s_pool_list_t *pools)
{
    free(pools->sums);
    zlist_destroy(&pools->configured);
    memset(pools, 0, sizeof *pools);
}

/* True when `tape list` shows volume row v: no --pool, or v is in it. */
static bool
s_list_shows(const s_args_t *a, const tf_msg_volume_row_t *v)
{
    return !a->pool || (v->pool && strcmp(v->pool, a->pool) == 0);
}

/* The remote call of `tape list`: every volume the catalog knows. */
static int
s_list_fetch(cli_t *cli, const s_args_t *a, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    tf_client_t *client = tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), err);
    int rc = client ? TF_OK : err->code;
    if (rc == TF_OK) {
        tf_msg_cat_query_t query = {.query = "volumes"};
        rc = cli_catalog_query(client, &query, reply,
                               a->timeout_ms > 0 ? a->timeout_ms : CLI_JOB_TIMEOUT_MS, err);
    }
    tf_client_destroy(&client);
    return rc;
}

static int
s_list_pools(cli_t *cli, const s_args_t *a, const tf_msg_cat_reply_t *r, s_pool_list_t *pools)
{
    memset(pools, 0, sizeof *pools);
    size_t cap = r->volumes_count + 64;
    pools->sums = calloc(cap, sizeof *pools->sums);
    pools->configured = tf_config_children(cli->cfg, "pools");
    if (!pools->sums) {
        s_pool_list_free(pools);
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < r->volumes_count; i++) {
        const tf_msg_volume_row_t *v = &r->volumes[i];
        if (!s_list_shows(a, v))
            continue;
        s_pool_sum_t *p = s_pool_find(pools->sums, &pools->count, cap, v->pool ? v->pool : "?");
        if (!p)
            continue;
        p->volumes++;
        if (v->state && strcmp(v->state, "full") == 0)
            p->full++;
        else if (v->state && strcmp(v->state, "expired") == 0)
            p->expired++;
        else if (v->state && strcmp(v->state, "error") == 0)
            p->error++;
        else
            p->appendable++;
    }
    zlist_t *configured = pools->configured;
    for (const char *name = configured ? zlist_first(configured) : NULL; name;
         name = zlist_next(configured))
        if (!a->pool || strcmp(name, a->pool) == 0)
            s_pool_find(pools->sums, &pools->count, cap, name);
    if (a->pool)
        s_pool_find(pools->sums, &pools->count, cap, a->pool);
    return CLI_EXIT_OK;
}

static void
s_list_print_error_json(const tf_err_t *err)
{
    tf_json_t *j = tf_json_new();
    if (!j)
        return;
    tf_json_document_begin(j);
    tf_json_str(j, "error", err->message);
    tf_json_str(j, "code", tf_status_name(err->code));
    tf_json_object_end(j);
    s_print_json(j);
    tf_json_destroy(&j);
}

static void
s_list_print_json(cli_t *cli, const s_args_t *a, const tf_msg_cat_reply_t *r,
                  const s_pool_list_t *pools, const tf_msg_t *where)
{
    char t1[40], t2[40];
    tf_json_t *j = tf_json_new();
    if (!j)
        return;
    tf_json_document_begin(j);
    tf_json_array_begin(j, "volumes");
    for (size_t i = 0; i < r->volumes_count; i++) {
        const tf_msg_volume_row_t *v = &r->volumes[i];
        if (!s_list_shows(a, v))
            continue;
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "volume", v->label);
        tf_json_str(j, "pool", v->pool);
        tf_json_str(j, "state", v->state);
        tf_json_bool(j, "held", v->held);
        tf_json_array_begin(j, "orphans");
        for (size_t k = 0; k < v->orphans_count; k++)
            tf_json_str(j, NULL, v->orphans[k].path);
        tf_json_array_end(j);
        tf_json_str(j, "media_type", v->media_type && *v->media_type ? v->media_type : NULL);
        tf_json_str(j, "created", v->created_ms > 0 ? tf_volume_format_time(v->created_ms, t1, sizeof t1) : NULL);
        tf_json_str(j, "expires", v->expires_ms > 0 ? tf_volume_format_time(v->expires_ms, t1, sizeof t1) : NULL);
        tf_json_int(j, "expires_ms", v->expires_ms);
        tf_json_int(j, "bytes_used", (int64_t) v->bytes_used);
        tf_json_str(j, "last_written", v->last_written_ms > 0 ? tf_volume_format_time(v->last_written_ms, t2, sizeof t2) : NULL);
        tf_json_int(j, "last_written_ms", v->last_written_ms);
        tf_json_int(j, "write_errors", (int64_t) v->write_errors);
        tf_json_int(j, "read_errors", (int64_t) v->read_errors);
        tf_json_int(j, "tape_files", (int64_t) v->tape_files);
        tf_json_int(j, "archives", (int64_t) (v->tape_files > 1 ? v->tape_files - 1 : 0));
        tf_json_str(j, "drive", v->drive && *v->drive ? v->drive : NULL);
        const tf_msg_cartridge_row_t *c = cli_labeller_find(where, v->label);
        tf_json_str(j, "location", c ? c->location : NULL);
        if (c && c->location && strcmp(c->location, "outside") != 0)
            tf_json_int(j, "element", (int64_t) c->element);
        else
            tf_json_null(j, "element");
        tf_json_str(j, "changer", c ? c->changer : NULL);
        tf_json_str(j, "barcode", c ? c->barcode : NULL);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_array_begin(j, "pools");
    for (size_t i = 0; i < pools->count; i++) {
        const s_pool_sum_t *p = &pools->sums[i];
        int64_t retention = 0;
        tf_err_t perr = {0};
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "pool", p->pool);
        tf_json_int(j, "volumes", (int64_t) p->volumes);
        tf_json_int(j, "appendable", (int64_t) p->appendable);
        tf_json_int(j, "full", (int64_t) p->full);
        tf_json_int(j, "expired", (int64_t) p->expired);
        tf_json_int(j, "error", (int64_t) p->error);
        tf_json_int(j, "volumes_configured", tf_volume_pool_count(cli->cfg, p->pool));
        if (tf_volume_retention(cli->cfg, p->pool, &retention, &perr) == TF_OK
            && retention != TF_VOLUME_NEVER)
            tf_json_int(j, "retention_s", retention / 1000);
        else
            tf_json_null(j, "retention_s");
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_bool(j, "truncated", r->truncated);
    tf_json_object_end(j);
    s_print_json(j);
    tf_json_destroy(&j);
}

/* The table rows of `tape list`; returns how many were shown. */
static size_t
s_list_print_volumes(const s_args_t *a, const tf_msg_cat_reply_t *r, const tf_msg_t *where)
{
    char t1[40], t2[40], bytes[32];
    size_t shown = 0;
    printf("%-12s %-10s %-17s  %-20s  %10s  %-20s  %-6s  %-10s  %-7s  %s\n", "LABEL", "POOL", "STATE",
           "EXPIRES", "USED", "LAST WRITTEN", "ERRORS", "TAPE FILES", "ORPHANS", "WHERE");
    for (size_t i = 0; i < r->volumes_count; i++) {
        const tf_msg_volume_row_t *v = &r->volumes[i];
        if (!s_list_shows(a, v))
            continue;
        char errors[48];
        snprintf(errors, sizeof errors, "%" PRIu64 "/%" PRIu64, v->write_errors, v->read_errors);
        /* Where it is, as the labeller's inventory has it. */
        const tf_msg_cartridge_row_t *c = cli_labeller_find(where, v->label);
        char place[200] = "-";
        if (c && c->location && strcmp(c->location, "outside") == 0)
            snprintf(place, sizeof place, "outside %s", c->changer ? c->changer : "");
        else if (c)
            snprintf(place, sizeof place, "%s %s %" PRIu64 "%s%s", c->changer ? c->changer : "",
                     c->location ? c->location : "?", c->element, c->drive ? " " : "", c->drive ? c->drive : "");
        /* held: past its expiry, kept for the jobs that restore from it (chain retention). */
        char state[48];
        snprintf(state, sizeof state, "%s%s", v->state ? v->state : "?", v->held ? " (held)" : "");
        printf("%-12s %-10s %-17s  %-20s  %10s  %-20s  %-6s  %-10" PRIu64 "  %-7zu  %s\n", v->label,
               v->pool ? v->pool : "?", state,
               v->expires_ms > 0 ? tf_volume_format_time(v->expires_ms, t1, sizeof t1) : "-",
               tf_units_bytes(v->bytes_used, bytes, sizeof bytes),
               s_ms_text(v->last_written_ms, t2, sizeof t2), errors, v->tape_files, v->orphans_count, place);
        shown++;
    }
    return shown;
}

/* One pool's summary line of `tape list`, and what the operator should do about it. */
static void
s_list_print_pool(cli_t *cli, const s_pool_sum_t *p)
{
    int64_t retention = 0, want = tf_volume_pool_count(cli->cfg, p->pool);
    tf_err_t perr = {0};
    char period[32];
    if (tf_volume_retention(cli->cfg, p->pool, &retention, &perr) != TF_OK)
        snprintf(period, sizeof period, "invalid");
    else if (retention == TF_VOLUME_NEVER)
        snprintf(period, sizeof period, "never expires");
    else if (retention % 86400000 == 0)
        snprintf(period, sizeof period, "%" PRId64 " days", retention / 86400000);
    else
        snprintf(period, sizeof period, "%" PRId64 " s", retention / 1000);
    char of[48] = "";
    if (want > 0)
        snprintf(of, sizeof of, " of %" PRId64, want);
    char errors[64] = "";
    if (p->error > 0)
        snprintf(errors, sizeof errors, ", %zu error", p->error);
    printf("pool %s: %zu%s volume%s (%zu appendable, %zu full, %zu expired%s), retention %s\n",
           p->pool, p->volumes, of, p->volumes == 1 && want <= 1 ? "" : "s", p->appendable,
           p->full, p->expired, errors, period);
    if (p->error > 0)
        printf("  pool %s has %zu volume%s in state error (write errors): 'tapeflow tape clear "
               "LABEL' once a cartridge is known to be good\n", p->pool, p->error,
               p->error == 1 ? "" : "s");
    if (p->volumes > 0 && p->appendable == 0 && p->expired == 0)
        printf("  pool %s has no appendable or expired volume: backups to it are refused "
               "until one expires or a new tape is labelled\n", p->pool);
    else if (want > 0 && (int64_t) p->volumes < want)
        printf("  pool %s has %zu of its %" PRId64 " volumes: label %" PRId64 " more\n",
               p->pool, p->volumes, want, want - (int64_t) p->volumes);
}

static void
s_list_print_text(cli_t *cli, const s_args_t *a, const tf_msg_cat_reply_t *r,
                  const s_pool_list_t *pools, const tf_msg_t *where)
{
    if (s_list_print_volumes(a, r, where) == 0)
        printf("(no volumes in the catalog yet: label a tape with 'tapeflow tape label DRIVE "
               "--label NAME --pool POOL')\n");
    for (size_t i = 0; i < pools->count; i++)
        s_list_print_pool(cli, &pools->sums[i]);
    if (r->truncated)
        printf("(more volumes than one answer holds)\n");
}

static int
s_list(cli_t *cli, const s_args_t *a)
{
    tf_err_t err = {0};
    tf_msg_t reply;
    if (s_list_fetch(cli, a, &reply, &err) != TF_OK) {
        if (a->json)
            s_list_print_error_json(&err);
        fprintf(stderr, "tapeflow tape list: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    s_pool_list_t pools;
    if (s_list_pools(cli, a, &reply.cat_reply, &pools) != CLI_EXIT_OK) {
        tf_msg_clear(&reply);
        fprintf(stderr, "tapeflow tape list: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    /* Where each volume is: the labeller's inventory (nothing when no labeller runs). */
    tf_msg_t where;
    tf_err_t werr = {0};
    if (cli_labeller_list(cli->cfg, 5000, &where, &werr) != TF_OK)
        memset(&where, 0, sizeof where);
    if (a->json)
        s_list_print_json(cli, a, &reply.cat_reply, &pools, &where);
    else
        s_list_print_text(cli, a, &reply.cat_reply, &pools, &where);
    fflush(stdout);
    tf_msg_clear(&where);
    s_pool_list_free(&pools);
    tf_msg_clear(&reply);
    return CLI_EXIT_OK;
}

/* `tape clear LABEL`: state error (write errors) back to appendable; the counts stay. */
static int
s_clear(cli_t *cli, const s_args_t *a)
{
    const char *label = a->drive;
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), &err);
    tf_msg_t reply;
    memset(&reply, 0, sizeof reply);
    int timeout = a->timeout_ms > 0 ? a->timeout_ms : CLI_JOB_TIMEOUT_MS;
    int rc = client ? TF_OK : err.code;
    if (rc == TF_OK) {
        tf_msg_cat_query_t query = {.query = "volumes", .pattern = (char *) label};
        rc = cli_catalog_query(client, &query, &reply, timeout, &err);
    }
    const tf_msg_volume_row_t *row = NULL;
    for (size_t i = 0; rc == TF_OK && i < reply.cat_reply.volumes_count; i++)
        if (strcmp(reply.cat_reply.volumes[i].label, label) == 0)
            row = &reply.cat_reply.volumes[i];
    if (rc == TF_OK && !row)
        rc = tf_err_set(&err, TF_ERR_NOTFOUND, "the catalog knows no volume %s ('tapeflow tape list' "
                        "shows the volumes it knows)", label);
    bool was_error = row && row->state && strcmp(row->state, "error") == 0;
    if (rc == TF_OK && was_error) {
        tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
        msg.cat_volume = (tf_msg_cat_volume_t){
            .label = row->label, .pool = row->pool, .state = "appendable", .media_type = row->media_type,
            .created_ms = row->created_ms, .expires_ms = row->expires_ms, .bytes_used = row->bytes_used,
            .last_written_ms = row->last_written_ms, .write_errors = row->write_errors,
            .read_errors = row->read_errors, .tape_files = row->tape_files, .drive = row->drive,
            .time_ms = tf_clock_wall_ms()};
        char id[128];
        snprintf(id, sizeof id, "%s-cleared-%" PRId64, row->label, msg.cat_volume.time_ms);
        tf_msg_t result;
        rc = tf_client_call(client, "catalog", id, NULL, &msg, &result, timeout, &err);
        if (rc == TF_OK)
            tf_msg_clear(&result);
        else
            tf_err_prefix(&err, "the catalog did not take the change: ");
    }
    tf_client_destroy(&client);
    if (rc != TF_OK) {
        if (a->json) {
            tf_json_t *j = tf_json_new();
            if (j) {
                tf_json_document_begin(j);
                tf_json_str(j, "volume", label);
                tf_json_str(j, "error", err.message);
                tf_json_str(j, "code", tf_status_name(err.code));
                tf_json_object_end(j);
                s_print_json(j);
                tf_json_destroy(&j);
            }
        }
        fprintf(stderr, "tapeflow tape clear: %s\n", err.message);
        tf_msg_clear(&reply);
        return CLI_EXIT_FAIL;
    }
    if (a->json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "volume", row->label);
            tf_json_str(j, "pool", row->pool);
            tf_json_str(j, "previous_state", row->state);
            tf_json_str(j, "state", was_error ? "appendable" : row->state);
            tf_json_bool(j, "cleared", was_error);
            tf_json_int(j, "write_errors", (int64_t) row->write_errors);
            tf_json_int(j, "read_errors", (int64_t) row->read_errors);
            tf_json_object_end(j);
            s_print_json(j);
            tf_json_destroy(&j);
        }
    } else if (was_error)
        printf("tape %s (pool %s) is appendable again: the tape writer may write to it (its %" PRIu64
               " write error%s and %" PRIu64 " read error%s stay counted)\n", row->label, row->pool,
               row->write_errors, row->write_errors == 1 ? "" : "s", row->read_errors,
               row->read_errors == 1 ? "" : "s");
    else
        printf("tape %s is not marked error (it is %s): nothing to clear\n", row->label,
               row->state ? row->state : "?");
    tf_msg_clear(&reply);
    return CLI_EXIT_OK;
}

/* Parses the verb's words, then runs it. */
static int
s_run(cli_t *cli, int argc, char **argv, int (*verb)(cli_t *cli, const s_args_t *a))
{
    s_args_t a;
    int rc = s_parse(argc, argv, cli->json, &a);
    return rc >= 0 ? rc : verb(cli, &a);
}

static int
s_cmd_label(cli_t *cli, int argc, char **argv)
{
    /* tape label --barcodes CHANGER: the labeller and the tape writers label the library. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--barcodes") == 0 || strncmp(argv[i], "--barcodes=", 11) == 0)
            return cmd_tape_label_barcodes(cli, argc, argv);
    return s_run(cli, argc, argv, s_label);
}

static int
s_cmd_info(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, argc, argv, s_info);
}

static int
s_cmd_dump(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, argc, argv, s_dump);
}

static int
s_cmd_list(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, argc, argv, s_list);
}

static int
s_cmd_erase(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, argc, argv, s_erase);
}

static int
s_cmd_clear(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, argc, argv, s_clear);
}

const cli_verb_t cli_tape_verbs[] = {
    {"label", s_cmd_label},
    {"info", s_cmd_info},
    {"dump", s_cmd_dump},
    {"list", s_cmd_list},
    {"erase", s_cmd_erase},
#ifdef TF_HAVE_CMD_TAPE_SCAN
    {"scan", cmd_tape_scan},
#endif
    {"clear", s_cmd_clear},
    {NULL, NULL},
};

int
cmd_tape(cli_t *cli, int argc, char **argv)
{
    return cli_verb_run(cli, "tape", cli_tape_verbs, s_usage, argc, argv);
}
