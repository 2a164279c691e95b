/*  Many hosts, safely (issue 10, item 5): a tape server and client hosts on a real network
    (tf_testnet: namespaces on a bridge), every endpoint tcp with CURVE, keys exchanged with
    `tapeflow keys init/show/trust` as an operator would.

      srv-a    tape server: broker bus catalog labeller stager tapewriter, sim drive tape0
      cli-b    up/roles agent (scanner compressor extractor), trusted: agent backup restore query
      cli-c    the same
      rogue-d  up/roles agent, a key of its own that srv-a does not trust

    The clients have private files (their own tmpfs on the same path, FILES below): cli-b's
    files are invisible to srv-a and cli-c, so a file group read anywhere but on its host
    loses its files, and a restore written anywhere but on cli-b is not found there.

    Checks: (a) one job of cli-b:FILES/src and cli-c:FILES/src restores identically to
    cli-b:FILES/restore; (b) cli-b's compressor killed while busy is restarted on cli-b and the
    job completes; (c) rogue-d gets no status, no work, no registration, and is counted and
    alerted; (d) cli-b's key (no tape role) cannot register a tape writer; (e) a capture of
    the bridge during a backup holds the backup's bytes but not a known file name nor the
    file's content.

    One set of hosts serves every check (group setup): the checks run in this order and each
    leaves the hosts as it found them. Skips (exit 77) where namespaces cannot be made.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "tf_testnet.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

enum { S_A, S_B, S_C, S_D, S_HOSTS };

static const char *s_names[S_HOSTS] = {"srv-a", "cli-b", "cli-c", "rogue-d"};

#define S_POOL "default"
#define S_JOB_TIMEOUT "180"
#define S_WAIT_MS 60000
/* An unusual name, so finding it in a capture can only mean it crossed the wire in clear. */
#define S_WIRE_NAME "quokka-ledger-7f3a9c.bin"
#define S_WIRE_BYTES (1 << 20)
#define S_WIRE_SEED 0x9e3779b97f4a7c15ULL

typedef struct {
    tf_testnet_t *net;
    tf_teststack_t *host[S_HOSTS];
    char key[S_HOSTS][64];  /* public keys (Z85) from `tapeflow keys show` */
    char files[128];        /* the private files folder of the client hosts (a short temp path) */
} fx_t;

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- running things on the hosts ------------------------------------------------------------ */

/* `tapeflow ARGS...` on host h with stderr joined; exit status, output in *out (caller frees). */
#define s_cli(fx, h, out, ...) tf_teststack_cli_all((fx)->host[h], out, __VA_ARGS__, NULL)

/* Where the test reads path of host h. */
static const char *
s_path(fx_t *fx, int h, const char *path, char *buf, size_t size)
{
    return tf_testnet_path(fx->net, s_names[h], path, buf, size);
}

/* The first token of 40 Z85 characters in text (what `tapeflow keys show` prints) into key. */
static bool
s_z85_key(const char *text, char *key, size_t size)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    for (const char *p = text; p && *p;) {
        size_t len = strspn(p, z85);
        if (len == 40 && size > 40) {
            snprintf(key, size, "%.40s", p);
            return true;
        }
        p += len ? len : 1;
    }
    return false;
}

/* `tapeflow status --json` on srv-a (its own key: admin) into *status (caller frees; NULL
   when it printed nothing); its exit status. */
static int
s_status(fx_t *fx, char **status)
{
    return tf_teststack_cli(fx->host[S_A], status, "status", "--json", NULL);
}

/* The worker objects of a status text one by one: the next one after *at into obj (flat
   objects: no braces inside). false after the last. */
static bool
s_next_worker(const char **at, char *obj, size_t size)
{
    if (!*at)
        return false;
    const char *workers = strstr(*at, "\"workers\":[");
    if (workers)
        *at = workers + strlen("\"workers\":[");
    const char *open = strchr(*at, '{'), *close_list = strchr(*at, ']');
    if (!open || (close_list && close_list < open))
        return false;
    const char *close = strchr(open, '}');
    if (!close)
        return false;
    snprintf(obj, size, "%.*s", (int) (close - open + 1), open);
    *at = close + 1;
    return true;
}

/* The pid of a worker of service registered from host in the broker's status, 0 when none;
   with item, only a worker that is busy, its item's id into item. */
static long long
s_worker(const char *status, const char *service, const char *host, char *item, size_t size)
{
    char obj[2048], want_service[128], want_host[128];
    snprintf(want_service, sizeof want_service, "\"service\":\"%s\"", service);
    snprintf(want_host, sizeof want_host, "\"host\":\"%s\"", host);
    const char *at = status;
    while (s_next_worker(&at, obj, sizeof obj))
        if (strstr(obj, want_service) && strstr(obj, want_host)
            && (!item || (strstr(obj, "\"state\":\"busy\"") && tf_test_json_str(obj, "item_id", item, size))))
            return tf_test_json_int(obj, "pid");
    return 0;
}

/* True when the broker lists a worker with process id pid. */
static bool
s_worker_pid_listed(const char *status, long long pid)
{
    char obj[2048];
    const char *at = status;
    while (s_next_worker(&at, obj, sizeof obj))
        if (tf_test_json_int(obj, "pid") == pid)
            return true;
    return false;
}

/* The broker's count of redelivered items of service (its services row), -1 when unknown. */
static long long
s_redelivered(fx_t *fx, const char *service)
{
    char row[128];
    snprintf(row, sizeof row, "{\"name\":\"%s\",", service);
    char *status = NULL;
    s_status(fx, &status);
    long long n = -1;
    if (status && strstr(status, row))
        n = tf_test_json_int(strstr(status, row), "redelivered");
    free(status);
    return n;
}

/* Waits until srv-a's broker lists a worker of each service (NULL-terminated) from host. */
static bool
s_wait_workers(fx_t *fx, const char *host, const char *const services[])
{
    int64_t deadline = s_now_ms() + S_WAIT_MS;
    for (;;) {
        char *status = NULL;
        s_status(fx, &status);
        bool all = status != NULL;
        for (size_t i = 0; all && services[i]; i++)
            all = s_worker(status, services[i], host, NULL, 0) > 0;
        free(status);
        if (all)
            return true;
        if (s_now_ms() > deadline)
            return false;
        usleep(100000);
    }
}

/* The broker's count of security refusals (status.security_refused), -1 when unknown. */
static long long
s_refused(fx_t *fx)
{
    char *status = NULL;
    s_status(fx, &status);
    long long n = tf_test_json_int(status, "security_refused");
    free(status);
    return n;
}

/* Waits until the refusal count passes before; the last count. */
static long long
s_wait_refused_above(fx_t *fx, long long before)
{
    int64_t deadline = s_now_ms() + S_WAIT_MS;
    long long now;
    while ((now = s_refused(fx)) <= before && s_now_ms() < deadline)
        usleep(100000);
    return now;
}

/* srv-a's alert.security listener: `tapeflow events alert.security --json` running there, one
   event a line in log. */
typedef struct {
    tf_testproc_t *proc;
    char log[PATH_MAX + 64];
} s_listener_t;

#define S_ALERT_EVENT "\"topic\":\"alert.security\""

/* The listener's events after the first skip: the first whose line holds needle (any when
   NULL) into *line (caller frees), and how many events it printed in all. */
static size_t
s_listener_events(const s_listener_t *l, size_t skip, const char *needle, char **line)
{
    char *text = tf_test_read_file(l->log);
    size_t n = 0;
    for (char *at = text, *end; at && *at; at = end ? end + 1 : NULL) {
        end = strchr(at, '\n');
        if (end)
            *end = '\0';
        if (!strstr(at, S_ALERT_EVENT))
            continue;
        if (line && !*line && n >= skip && (!needle || strstr(at, needle)))
            *line = strdup(at);
        n++;
    }
    free(text);
    return n;
}

/* Waits for the listener to print an event after the first skip whose line holds needle;
   that line (caller frees), NULL after S_WAIT_MS. */
static char *
s_listener_wait(const s_listener_t *l, size_t skip, const char *needle)
{
    int64_t deadline = s_now_ms() + S_WAIT_MS;
    char *line = NULL;
    while (s_listener_events(l, skip, needle, &line), !line && s_now_ms() < deadline)
        usleep(50000);
    return line;
}

static void
s_listener_stop(s_listener_t *l)
{
    tf_testproc_destroy(&l->proc);
}

/* Starts the listener and makes sure it is live before it returns: a refused peer connects
   once (libzmq does not retry a connection refused at the handshake), so its one alert is
   lost to a subscription still on its way through the bus. Until the listener prints an
   event, rogue-d asks for the status - each attempt a refused handshake, so an alert. The
   listener's log names the failure otherwise. */
static void
s_listener_start(fx_t *fx, s_listener_t *l)
{
    snprintf(l->log, sizeof l->log, "%s/alert-%lld.log", tf_testnet_dir(fx->net), (long long) s_now_ms());
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    char *argv[] = {exe, "events", "alert.security", "--json", NULL};
    l->proc = tf_testnet_start(fx->net, s_names[S_A], argv, tf_teststack_env(fx->host[S_A]), l->log);
    assert_non_null(l->proc);
    int64_t deadline = s_now_ms() + S_WAIT_MS;
    while (s_listener_events(l, 0, NULL, NULL) == 0) {
        if (s_now_ms() > deadline || !tf_testproc_alive(l->proc)) {
            s_listener_stop(l);
            char *text = tf_test_read_file(l->log);
            fail_msg("the alert.security listener on srv-a saw none of rogue-d's refusals: %s",
                     text ? text : "(no output)");
        }
        char *out = NULL;
        s_cli(fx, S_D, &out, "status", "--json");  /* refused: an alert */
        free(out);
    }
}

/* Waits for job (run on srv-a) to complete; fails the test when it fails or times out. */
static void
s_wait_job(fx_t *fx, const char *job)
{
    int64_t deadline = s_now_ms() + atoi(S_JOB_TIMEOUT) * 1000;
    for (;;) {
        char *out = NULL;
        tf_teststack_cli(fx->host[S_A], &out, "job", job, "--json", NULL);
        bool done = out && strstr(out, "\"status\":\"completed\"");
        if (out && strstr(out, "\"status\":\"failed\""))
            fail_msg("job %s failed: %s", job, out);
        free(out);
        if (done)
            return;
        if (s_now_ms() > deadline)
            fail_msg("job %s did not complete within %s s", job, S_JOB_TIMEOUT);
        usleep(200000);
    }
}

/* `tapeflow restore JOB --to TARGET` on srv-a; fails the test unless it succeeds. */
static void
s_restore(fx_t *fx, const char *job, const char *target)
{
    char *out = NULL;
    int rc = s_cli(fx, S_A, &out, "restore", job, "--to", target, "--json");
    if (rc != 0)
        fail_msg("restore %s --to %s: exit %d: %s", job, target, rc, out ? out : "");
    free(out);
}

/* Compares the tree at path a on host ha with the one at path b on host hb. */
static void
s_same_tree(fx_t *fx, int ha, const char *a, int hb, const char *b)
{
    char pa[PATH_MAX * 2], pb[PATH_MAX * 2], why[2048];
    if (tf_tree_compare(s_path(fx, ha, a, pa, sizeof pa), s_path(fx, hb, b, pb, sizeof pb), true, why, sizeof why)
        != 0)
        fail_msg("%s:%s and its restored copy %s:%s differ: %s", s_names[ha], a, s_names[hb], b, why);
}

/* A tree of files at FILES/name on host h; its path (as h sees it) in path. */
static void
s_make_tree(fx_t *fx, int h, const char *name, uint64_t files, uint64_t bytes, uint64_t seed, char *path,
            size_t size)
{
    snprintf(path, size, "%s/%s", fx->files, name);
    char where[PATH_MAX * 2], why[1024];
    tf_tree_spec_t spec = {.files = files, .bytes = bytes, .seed = seed, .special = true};
    if (tf_tree_generate(s_path(fx, h, path, where, sizeof where), &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree on %s: %s", s_names[h], why);
}

/* xorshift bytes from seed: incompressible, so an archive of them is as big as they are. */
static void
s_random_bytes(unsigned char *buf, size_t size, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char) (x >> 32);
    }
}

/* A file of size random bytes (seed) at path on host h. */
static void
s_random_file(fx_t *fx, int h, const char *path, size_t size, uint64_t seed)
{
    unsigned char *content = malloc(size);
    assert_non_null(content);
    s_random_bytes(content, size, seed);
    char where[PATH_MAX];
    FILE *f = fopen(s_path(fx, h, path, where, sizeof where), "w");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    free(content);
}

/* --- the hosts ------------------------------------------------------------------------------ */

/* Host h's configuration: its name, its roles, srv-a's tcp endpoints; clients authenticate
   srv-a by the name they trust its key under. */
static tf_teststack_t *
s_host_stack(fx_t *fx, int h)
{
    const char *a = tf_testnet_addr(fx->net, s_names[S_A]);
    char host[64], broker[96], bus_in[96], bus_out[96], stager[96];
    snprintf(host, sizeof host, "tapeflow/host=%s", s_names[h]);
    snprintf(broker, sizeof broker, "broker/endpoint=tcp://%s:5555", a);
    snprintf(bus_in, sizeof bus_in, "bus/frontend=tcp://%s:5556", a);
    snprintf(bus_out, sizeof bus_out, "bus/backend=tcp://%s:5557", a);
    snprintf(stager, sizeof stager, "stager/endpoint=tcp://%s:5558", a);
    const char *config[] = {
        host, broker, bus_in, bus_out, stager,
        h == S_A ? "up/roles=broker bus catalog labeller stager tapewriter" : "up/roles=agent",
        /* Clients: srv-a's key is trusted under its host name. */
        h == S_A ? "keys/server=" : "keys/server=srv-a",
        /* One compressor per client: cli-b's file groups wait for it when it is killed. */
        "actors/compressor/instances=1",
        /* A small holding disk in front of a slow drive (4 MiB/s): compressors wait for
           credit, so a compressor is busy long enough to be killed mid-item. */
        "stager/capacity=4194304",
        NULL,
    };
    tf_teststack_opts_t opts = {
        .config = config,
        .sim_options = "&rate=4M",
        .no_up = true,
        .wrap = tf_testnet_wrap(fx->net, s_names[h]),
    };
    return tf_teststack_new("tfmh", &opts);
}

static int
s_fail_setup(const char *what, int h, int rc, char *out)
{
    fprintf(stderr, "multihost setup: %s on %s: exit %d: %s\n", what, s_names[h], rc, out ? out : "");
    free(out);
    return -1;
}

/* Keys as an operator exchanges them: each host makes its certificate; srv-a trusts cli-b and
   cli-c (agent work, backups, restores, queries - not the tape role) but not rogue-d; every
   client trusts srv-a's key as the server. */
static int
s_exchange_keys(fx_t *fx)
{
    for (int h = 0; h < S_HOSTS; h++) {
        char *out = NULL;
        int rc = s_cli(fx, h, &out, "keys", "init");
        if (rc != 0)
            return s_fail_setup("tapeflow keys init", h, rc, out);
        free(out);
        rc = tf_teststack_cli(fx->host[h], &out, "keys", "show", NULL);
        if (rc != 0 || !s_z85_key(out, fx->key[h], sizeof fx->key[h]))
            return s_fail_setup("tapeflow keys show (a 40-character Z85 key)", h, rc, out);
        free(out);
    }
    for (int h = S_B; h <= S_C; h++) {
        char *out = NULL;
        int rc = s_cli(fx, S_A, &out, "keys", "trust", s_names[h], fx->key[h], "--role", "agent,backup,restore,query");
        if (rc != 0)
            return s_fail_setup("tapeflow keys trust", S_A, rc, out);
        free(out);
    }
    for (int h = S_B; h < S_HOSTS; h++) {
        char *out = NULL;
        int rc = s_cli(fx, h, &out, "keys", "trust", s_names[S_A], fx->key[S_A], "--role", "server");
        if (rc != 0)
            return s_fail_setup("tapeflow keys trust", h, rc, out);
        free(out);
    }
    return 0;
}

static int
s_group_teardown(void **state)
{
    fx_t *fx = *state;
    if (!fx)
        return 0;  /* a failed setup tore down already */
    int rc = 0;
    for (int h = S_HOSTS; h-- > 0;) {  /* clients first, the server they talk to last */
        if (h == S_D)
            tf_teststack_destroy(&fx->host[h]);  /* never up: only the programs a check ran */
        else if (fx->host[h] && tf_teststack_finish(&fx->host[h]) != 0)
            rc = -1;
    }
    tf_testnet_destroy(&fx->net);
    free(fx);
    *state = NULL;
    return rc;
}

static int
s_group_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    *state = fx;
    char why[1024];
    fx->net = tf_testnet_new(why, sizeof why);
    if (!fx->net) {
        fprintf(stderr, "multihost setup: %s\n", why);
        return s_group_teardown(state), -1;
    }
    snprintf(fx->files, sizeof fx->files, "%s", tf_testnet_files(fx->net));
    for (int h = 0; h < S_HOSTS; h++)
        if (tf_testnet_add_host(fx->net, s_names[h], h != S_A, why, sizeof why) != 0) {
            fprintf(stderr, "multihost setup: host %s: %s\n", s_names[h], why);
            return s_group_teardown(state), -1;
        }
    for (int h = 0; h < S_HOSTS; h++)
        if (!(fx->host[h] = s_host_stack(fx, h))) {
            fprintf(stderr, "multihost setup: no configuration for %s\n", s_names[h]);
            return s_group_teardown(state), -1;
        }
    if (s_exchange_keys(fx) != 0 || tf_teststack_up(fx->host[S_A]) != 0
        || tf_teststack_label(fx->host[S_A], "tape0", "TF0001", S_POOL) != 0
        || tf_teststack_up(fx->host[S_B]) != 0 || tf_teststack_up(fx->host[S_C]) != 0)
        return s_group_teardown(state), -1;
    const char *agent[] = {"scan", "compress", "extract", NULL};
    for (int h = S_B; h <= S_C; h++)
        if (!s_wait_workers(fx, s_names[h], agent)) {
            fprintf(stderr, "multihost setup: %s's agent did not register with srv-a's broker\n", s_names[h]);
            return s_group_teardown(state), -1;
        }
    return 0;
}

/* --- the checks ----------------------------------------------------------------------------- */

/* (a) One job backs up cli-b:FILES/src and cli-c:FILES/src; restored to cli-b:FILES/restore,
   each host's entries land under DEST/HOST/stored/path on cli-b, identical to their source,
   and nothing is written on the tape server. */
static void
test_two_hosts_one_job_restored_to_b(void **state)
{
    fx_t *fx = *state;
    char src[256], src_c[256];
    s_make_tree(fx, S_B, "src", 60, 3 << 20, 1001, src, sizeof src);
    s_make_tree(fx, S_C, "src", 40, 2 << 20, 1002, src_c, sizeof src_c);
    char from_b[320], from_c[320];
    snprintf(from_b, sizeof from_b, "%s:%s", s_names[S_B], src);
    snprintf(from_c, sizeof from_c, "%s:%s", s_names[S_C], src);

    char *out = NULL, job[128];
    int rc = s_cli(fx, S_A, &out, "backup", from_b, from_c, "--pool", S_POOL, "--wait", "--timeout", S_JOB_TIMEOUT,
                   "--json");
    if (rc != 0 || !tf_test_json_job(out, job, sizeof job))
        fail_msg("backup %s %s: exit %d: %s", from_b, from_c, rc, out ? out : "");
    free(out);

    char dest[256], target[320], restored[640];
    snprintf(dest, sizeof dest, "%s/restore", fx->files);
    snprintf(target, sizeof target, "%s:%s", s_names[S_B], dest);
    s_restore(fx, job, target);
    snprintf(restored, sizeof restored, "%s/%s%s", dest, s_names[S_B], src);
    s_same_tree(fx, S_B, src, S_B, restored);
    snprintf(restored, sizeof restored, "%s/%s%s", dest, s_names[S_C], src);
    s_same_tree(fx, S_C, src, S_B, restored);
    char where[PATH_MAX];
    assert_int_not_equal(access(s_path(fx, S_A, dest, where, sizeof where), F_OK), 0);
    assert_int_not_equal(access(s_path(fx, S_C, dest, where, sizeof where), F_OK), 0);
}

/* (b) cli-b's only compressor is killed while it works on one of cli-b's file groups; the
   group waits for cli-b (no other host can read its files), the supervisor there starts
   another compressor, and the job completes with every file. Besides a small tree the source
   holds 16 MiB of incompressible 1 MiB files, four times the holding disk (stager/capacity):
   every group fits the disk (scanner/group_size plus at most one file), and once the disk is
   full (after the first groups) each group waits for the drive to write one (about half a
   second at the drive's rate). The kill comes as soon as a status shows cli-b's compressor on
   a later group than the status before: it started that group moments ago, so it is in the
   middle of it. */
static void
test_kill_b_compressor_mid_item(void **state)
{
    fx_t *fx = *state;
    char src[256], from_b[320];
    s_make_tree(fx, S_B, "big", 100, 2 << 20, 2001, src, sizeof src);
    char dir[320], where[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/random", src);
    assert_int_equal(mkdir(s_path(fx, S_B, dir, where, sizeof where), 0755), 0);
    for (int i = 0; i < 16; i++) {
        char file[360];
        snprintf(file, sizeof file, "%s/r%02d.bin", dir, i);
        s_random_file(fx, S_B, file, 1 << 20, 2001 + (uint64_t) i);
    }
    snprintf(from_b, sizeof from_b, "%s:%s", s_names[S_B], src);
    char *out = NULL, job[128];
    int rc = s_cli(fx, S_A, &out, "backup", from_b, "--pool", S_POOL, "--json");
    if (rc != 0 || !tf_test_json_job(out, job, sizeof job))
        fail_msg("backup %s: exit %d: %s", from_b, rc, out ? out : "");
    free(out);

    long long redelivered = s_redelivered(fx, "compress"), busy = 0;
    assert_true(redelivered >= 0);
    char item[128] = "", last_item[128] = "";
    int groups_seen = 0;  /* distinct groups seen busy: the first ones pass before the disk is full */
    int64_t deadline = s_now_ms() + S_WAIT_MS;
    while (!busy && s_now_ms() < deadline) {
        char *status = NULL;
        s_status(fx, &status);
        long long pid = s_worker(status, "compress", s_names[S_B], item, sizeof item);
        free(status);
        if (pid <= 0 || strcmp(item, last_item) == 0)
            continue;
        if (++groups_seen > 3 && last_item[0])
            busy = pid;
        snprintf(last_item, sizeof last_item, "%s", item);
    }
    if (!busy)
        fail_msg("cli-b's compressor was never seen starting a group after its first three (job %s)", job);
    assert_int_equal(kill((pid_t) busy, SIGKILL), 0);

    s_wait_job(fx, job);
    char *status = NULL;
    s_status(fx, &status);
    long long again = s_worker(status, "compress", s_names[S_B], NULL, 0);
    free(status);
    if (again <= 0 || again == busy)
        fail_msg("no new compressor registered from cli-b after the kill of %lld", busy);
    /* The killed compressor's item went round again: the kill was mid-item. */
    if (s_redelivered(fx, "compress") <= redelivered)
        fail_msg("no compress item was redelivered after the kill of %lld: it was not mid-item", busy);

    /* A restore to another host goes through the holding disk as one stream: this job is
       bigger than the disk on purpose, so a restore to cli-b fails for good with the stager's
       reason (not as an interrupted restore to run again), and nothing is written there. */
    char dest[256], target[320], restored[640];
    snprintf(dest, sizeof dest, "%s/restore-big", fx->files);
    snprintf(target, sizeof target, "%s:%s", s_names[S_B], dest);
    rc = s_cli(fx, S_A, &out, "restore", job, "--to", target, "--json");
    if (rc == 0 || !out || !strstr(out, "cannot fit the holding disk")
        || !strstr(out, "restore fewer files at a time"))
        fail_msg("restore %s --to %s (bigger than the holding disk): exit %d: %s", job, target, rc, out ? out : "");
    free(out);
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    assert_int_not_equal(access(s_path(fx, S_B, restored, where, sizeof where), F_OK), 0);

    /* Read back on the tape server itself. */
    snprintf(dest, sizeof dest, "%s/restore-big", tf_testnet_dir(fx->net));
    snprintf(target, sizeof target, "%s:%s", s_names[S_A], dest);
    s_restore(fx, job, target);
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    s_same_tree(fx, S_B, src, S_A, restored);
}

/* What srv-a made of a program a check started on a host. */
typedef struct {
    long long before, after;  /* security_refused before the start, and once it rose (or timed out) */
    char *alert;              /* the alert.security event about it, NULL when none came */
    bool listed;              /* the broker lists the program as a worker */
} s_attempt_t;

/* Starts program (e.g. "compressor") on host h, a worker of service, while srv-a's alert
   listener runs; records what srv-a did about it (the first alert after the start whose line
   holds needle), then kills the program. */
static void
s_attempt(fx_t *fx, int h, const char *program, const char *service, const char *needle, s_attempt_t *r)
{
    s_listener_t listener = {0};
    s_listener_start(fx, &listener);
    size_t seen = s_listener_events(&listener, 0, NULL, NULL);
    r->before = s_refused(fx);
    assert_true(r->before >= 0);
    assert_int_equal(tf_teststack_start(fx->host[h], program), 0);
    r->after = s_wait_refused_above(fx, r->before);
    r->alert = s_listener_wait(&listener, seen, needle);
    if (!r->alert) {
        char *text = tf_test_read_file(listener.log);
        fprintf(stderr, "alert.security on srv-a since %s started: %s\n", program, text ? text : "(no output)");
        free(text);
    }
    s_listener_stop(&listener);
    char *status = NULL;
    s_status(fx, &status);
    r->listed = s_worker(status, service, s_names[h], NULL, 0) > 0
                || s_worker_pid_listed(status, tf_teststack_pid(fx->host[h], program));
    free(status);
    tf_teststack_kill(fx->host[h], program, SIGKILL);
}

/* (c) rogue-d's key is unknown to srv-a: its CLI gets no status, its compressor never
   registers (so gets no work), and every refused handshake is counted and alerted. */
static void
test_untrusted_client_refused(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    int rc = s_cli(fx, S_D, &out, "status", "--json");
    if (rc == 0 || (out && strstr(out, "\"uptime_ms\"")))
        fail_msg("rogue-d got the broker's status (exit %d): %s", rc, out ? out : "");
    free(out);

    s_attempt_t r = {0};
    s_attempt(fx, S_D, "compressor", "compress", "unknown CURVE key refused", &r);
    bool alerted = r.alert != NULL;
    free(r.alert);
    if (r.after <= r.before)
        fail_msg("security_refused stayed at %lld while rogue-d connected", r.before);
    if (!alerted)
        fail_msg("rogue-d's refusals were not published as alert.security");
    if (r.listed)
        fail_msg("rogue-d's compressor is registered with srv-a's broker");
}

/* (d) cli-b's key is trusted for agent work, not for the tape role: a tape writer started on
   cli-b is refused at READY, counted, alerted with the key's name, and never listed. */
static void
test_trusted_key_without_tape_role_refused(void **state)
{
    fx_t *fx = *state;
    s_attempt_t r = {0};
    s_attempt(fx, S_B, "tapewriter", "tape", s_names[S_B], &r);
    bool named = r.alert != NULL;
    free(r.alert);
    if (r.after <= r.before)
        fail_msg("security_refused stayed at %lld while cli-b registered a tape writer", r.before);
    if (!named)
        fail_msg("no alert.security naming cli-b's key");
    if (r.listed)
        fail_msg("a tape writer from cli-b is registered with srv-a's broker");
}

/* (e) A capture of the bridge during a backup of cli-c: it carried at least the file's bytes
   (so it saw the backup), yet holds neither the file's unusual name nor a piece of its
   (incompressible) content. */
static void
test_wire_is_not_readable(void **state)
{
    fx_t *fx = *state;
    char dir[256], file[512], where[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/wire", fx->files);
    assert_int_equal(mkdir(s_path(fx, S_C, dir, where, sizeof where), 0755), 0);
    snprintf(file, sizeof file, "%s/%s", dir, S_WIRE_NAME);
    s_random_file(fx, S_C, file, S_WIRE_BYTES, S_WIRE_SEED);
    unsigned char *content = malloc(S_WIRE_BYTES);  /* what the capture must not hold */
    assert_non_null(content);
    s_random_bytes(content, S_WIRE_BYTES, S_WIRE_SEED);

    char pcap[PATH_MAX + 16], why[1024];
    snprintf(pcap, sizeof pcap, "%s/wire.pcap", tf_testnet_dir(fx->net));
    if (tf_testnet_capture_start(fx->net, pcap, why, sizeof why) != 0)
        fail_msg("capture: %s", why);
    char from_c[320], job[128];
    snprintf(from_c, sizeof from_c, "%s:%s", s_names[S_C], dir);
    char *out = NULL;
    int rc = s_cli(fx, S_A, &out, "backup", from_c, "--pool", S_POOL, "--wait", "--timeout", S_JOB_TIMEOUT, "--json");
    bool stopped = tf_testnet_capture_stop(fx->net, why, sizeof why) == 0;
    if (rc != 0 || !tf_test_json_job(out, job, sizeof job))
        fail_msg("backup %s: exit %d: %s", from_c, rc, out ? out : "");
    free(out);
    if (!stopped)
        fail_msg("capture: %s", why);

    long size = 0;
    bool name = tf_testnet_file_holds(pcap, S_WIRE_NAME, strlen(S_WIRE_NAME), &size);
    bool data = tf_testnet_file_holds(pcap, content + S_WIRE_BYTES / 2, 64, &size);
    free(content);
    /* The capture must have seen the backup's bytes for the absence checks to mean anything;
       half of them is proof enough that it was listening while they crossed (a loaded machine
       may still drop some frames). */
    if (size < S_WIRE_BYTES / 2)
        fail_msg("the capture holds %ld bytes, fewer than half of the %d the backup sent: it missed the backup",
                 size, S_WIRE_BYTES);
    if (name)
        fail_msg("the file name %s crossed the wire in clear (%s)", S_WIRE_NAME, pcap);
    if (data)
        fail_msg("the file's content crossed the wire in clear (%s)", pcap);
}

int
main(int argc, char **argv)
{
    char why[1024];
    if (!tf_testnet_possible(why, sizeof why))
        return tf_testnet_skip(why);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_hosts_one_job_restored_to_b),
        cmocka_unit_test(test_kill_b_compressor_mid_item),
        cmocka_unit_test(test_untrusted_client_refused),
        cmocka_unit_test(test_trusted_key_without_tape_role_refused),
        cmocka_unit_test(test_wire_is_not_readable),
    };
    return cmocka_run_group_tests_name("multihost", tests, s_group_setup, s_group_teardown);
}
