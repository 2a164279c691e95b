/*  tf_testsmb - a private smbd for replication tests (see tf_testsmb.h). */
#define _GNU_SOURCE
#include "tf_testsmb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_testproc.h"

#define S_SHARES_MAX 8
#define S_PASSWORD "tf-Test-pw-42"   /* a test server on loopback, gone after the test */
#define S_DEDICATED_USER "tftestsmb"
#define S_READY_MS 20000

typedef struct {
    char name[64];
    char path[PATH_MAX];
} s_share_t;

struct _tf_testsmb_t {
    char *dir;
    char conf[PATH_MAX];
    char log[PATH_MAX];       /* smbd's own log file and its stdout/stderr */
    char setup_log[PATH_MAX]; /* smbpasswd, useradd, smbclient */
    char creds[PATH_MAX];
    char user[64];
    int port;
    s_share_t shares[S_SHARES_MAX];
    size_t share_count;
    tf_testproc_t *smbd;
};

static const char *
s_find_program(const char *name, char *buf, size_t size)
{
    const char *dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(buf, size, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

static int
s_write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t) len;
    ok = close(fd) == 0 && ok;
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

static int
s_write_conf(tf_testsmb_t *self)
{
    char *text = NULL;
    const char *d = self->dir;
    if (asprintf(&text,
                 "[global]\n"
                 "  server role = standalone server\n"
                 "  smb ports = %d\n"
                 "  interfaces = 127.0.0.1\n"
                 "  bind interfaces only = yes\n"
                 "  private dir = %s/private\n"
                 "  lock directory = %s/lock\n"
                 "  state directory = %s/state\n"
                 "  cache directory = %s/cache\n"
                 "  pid directory = %s/pid\n"
                 "  ncalrpc dir = %s/ncalrpc\n"
                 "  binddns dir = %s/bind-dns\n"
                 "  log file = %s\n"
                 "  log level = 1\n"
                 "  map to guest = never\n"
                 "  load printers = no\n"
                 "  printing = bsd\n"
                 "  printcap name = /dev/null\n"
                 "  disable spoolss = yes\n"
                 "  passdb backend = tdbsam\n"
                 "  unix password sync = no\n"
                 "  usershare max shares = 0\n",
                 self->port, d, d, d, d, d, d, d, self->log) < 0)
        return -1;
    for (size_t i = 0; i < self->share_count; i++) {
        char *more = NULL;
        if (asprintf(&more, "%s\n[%s]\n  path = %s\n  read only = no\n  create mask = 0644\n  directory mask = 0755\n",
                     text, self->shares[i].name, self->shares[i].path) < 0) {
            free(text);
            return -1;
        }
        free(text);
        text = more;
    }
    int rc = s_write_text(self->conf, text, 0644);
    free(text);
    return rc;
}

static int
s_write_creds(tf_testsmb_t *self)
{
    char text[256];
    snprintf(text, sizeof text, "username = %s\npassword = %s\n", self->user, S_PASSWORD);
    return s_write_text(self->creds, text, 0600);
}

/* Sets the user's SMB password in the private passdb (smbpasswd reads it twice from stdin). */
static int
s_set_password(tf_testsmb_t *self)
{
    char *const argv[] = {"sh", "-c", "printf '%s\\n%s\\n' \"$1\" \"$1\" | smbpasswd -c \"$2\" -s -a \"$3\"", "sh",
                          S_PASSWORD, self->conf, self->user, NULL};
    return tf_test_run_logged(argv, self->setup_log) == 0 ? 0 : -1;
}

static bool
s_serves(tf_testsmb_t *self)
{
    char port[16], service[128], program[PATH_MAX];
    snprintf(port, sizeof port, "%d", self->port);
    snprintf(service, sizeof service, "//127.0.0.1/%s", self->shares[0].name);
    if (!s_find_program("smbclient", program, sizeof program))
        return false;
    char *const argv[] = {program, "-p", port, "-A", self->creds, "-t", "5", service, "-c", "ls", NULL};
    return tf_test_run_logged(argv, self->setup_log) == 0;
}

static int
s_start(tf_testsmb_t *self, char *why, size_t why_size)
{
    char program[PATH_MAX];
    if (!s_find_program("smbd", program, sizeof program)) {
        snprintf(why, why_size, "no smbd (install samba: tools/install-deps)");
        return -1;
    }
    /* through setpriv --pdeathsig: a test that dies (a failed assertion in a group set-up
       skips the teardown, a SIGKILL skips everything) takes its smbd with it */
    char setpriv[PATH_MAX];
    char *const argv[] = {"smbd", "-F", "--no-process-group", "-s", self->conf, NULL};
    char *const bound[] = {"setpriv", "--pdeathsig", "KILL", "--", program, "-F", "--no-process-group",
                           "-s", self->conf, NULL};
    if (s_find_program("setpriv", setpriv, sizeof setpriv))
        self->smbd = tf_testproc_start(setpriv, bound, NULL, self->log);
    else
        self->smbd = tf_testproc_start(program, argv, NULL, self->log);
    if (!self->smbd) {
        snprintf(why, why_size, "cannot start %s", program);
        return -1;
    }
    /* ready: the port accepts, then an authenticated listing of the first share works */
    for (int waited = 0; waited < S_READY_MS; waited += 100) {
        if (!tf_testproc_alive(self->smbd)) {
            snprintf(why, why_size, "smbd exited at start (config %s)", self->conf);
            tf_test_log_tail(self->log, why, why_size);
            tf_testproc_destroy(&self->smbd);
            return -1;
        }
        if (tf_test_port_accepts(self->port) && s_serves(self))
            return 0;
        usleep(100 * 1000);
    }
    snprintf(why, why_size, "smbd on port %d did not serve //127.0.0.1/%s to %s within %d ms", self->port,
             self->shares[0].name, self->user, S_READY_MS);
    tf_test_log_tail(self->setup_log, why, why_size);
    tf_testsmb_stop(self);
    return -1;
}

static int
s_make_dirs(tf_testsmb_t *self)
{
    const char *subdirs[] = {"private", "lock", "state", "cache", "pid", "ncalrpc", "bind-dns"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", self->dir, subdirs[i]);
        if (mkdir(path, 0755) != 0)
            return -1;
    }
    return 0;
}

/* A share folder the SMB user (root or the dedicated user) can write. */
static int
s_share_folder(tf_testsmb_t *self, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/share-%s", self->dir, name);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return -1;
    return chmod(path, 0777);
}

tf_testsmb_t *
tf_testsmb_new(char *why, size_t why_size)
{
    tf_testsmb_t *self = calloc(1, sizeof *self);
    if (!self || !(self->dir = tf_test_tempdir("smb"))) {
        snprintf(why, why_size, "cannot make a temp folder: %s", strerror(errno));
        free(self);
        return NULL;
    }
    /* smbd serves as the SMB user: every parent of a share must be traversable */
    snprintf(self->conf, sizeof self->conf, "%s/smb.conf", self->dir);
    snprintf(self->log, sizeof self->log, "%s/smbd.log", self->dir);
    snprintf(self->setup_log, sizeof self->setup_log, "%s/setup.log", self->dir);
    snprintf(self->creds, sizeof self->creds, "%s/creds", self->dir);
    snprintf(self->shares[0].name, sizeof self->shares[0].name, "backup");
    self->share_count = 1;
    self->port = tf_test_free_port();
    if (chmod(self->dir, 0755) != 0 || s_make_dirs(self) != 0 ||
        s_share_folder(self, "backup", self->shares[0].path, sizeof self->shares[0].path) != 0 || self->port <= 0 ||
        s_write_conf(self) != 0) {
        snprintf(why, why_size, "cannot prepare smbd's folder %s: %s", self->dir, strerror(errno));
        tf_testsmb_destroy(&self);
        return NULL;
    }
    /* root first; a build of smbd that refuses root gets a dedicated user */
    snprintf(self->user, sizeof self->user, "root");
    if (s_write_creds(self) != 0 || s_set_password(self) != 0) {
        snprintf(why, why_size, "smbpasswd -c %s -a root failed", self->conf);
        tf_test_log_tail(self->setup_log, why, why_size);
        tf_testsmb_destroy(&self);
        return NULL;
    }
    char first[1024] = "";
    if (s_start(self, first, sizeof first) == 0)
        return self;
    snprintf(self->user, sizeof self->user, S_DEDICATED_USER);
    char *const id[] = {"id", S_DEDICATED_USER, NULL};
    char *const useradd[] = {"useradd", "-M", "-s", "/usr/sbin/nologin", S_DEDICATED_USER, NULL};
    if (tf_test_run_logged(id, self->setup_log) != 0 && tf_test_run_logged(useradd, self->setup_log) != 0) {
        snprintf(why, why_size, "smbd did not serve root (%s) and useradd -M %s failed", first, S_DEDICATED_USER);
        tf_testsmb_destroy(&self);
        return NULL;
    }
    if (s_write_creds(self) != 0 || s_set_password(self) != 0) {
        snprintf(why, why_size, "smbpasswd -c %s -a %s failed", self->conf, self->user);
        tf_test_log_tail(self->setup_log, why, why_size);
        tf_testsmb_destroy(&self);
        return NULL;
    }
    char second[1024] = "";
    if (s_start(self, second, sizeof second) != 0) {
        snprintf(why, why_size, "smbd served neither root (%s) nor %s (%s)", first, S_DEDICATED_USER, second);
        tf_testsmb_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_testsmb_destroy(tf_testsmb_t **self_p)
{
    if (self_p && *self_p) {
        tf_testsmb_t *self = *self_p;
        tf_testsmb_stop(self);
        if (getenv("TF_KEEP_TEST_DIRS"))
            fprintf(stderr, "kept %s (smbd's config, log and shares)\n", self->dir);
        else if (self->dir) {
            /* shares outside the folder (a test's tmpfs) are the test's to remove */
            tf_test_rmtree(self->dir);
        }
        free(self->dir);
        free(self);
        *self_p = NULL;
    }
}

int
tf_testsmb_port(tf_testsmb_t *self)
{
    return self->port;
}

const char *
tf_testsmb_user(tf_testsmb_t *self)
{
    return self->user;
}

const char *
tf_testsmb_password(tf_testsmb_t *self)
{
    (void) self;
    return S_PASSWORD;
}

const char *
tf_testsmb_creds(tf_testsmb_t *self)
{
    return self->creds;
}

const char *
tf_testsmb_dir(tf_testsmb_t *self)
{
    return self->dir;
}

const char *
tf_testsmb_log(tf_testsmb_t *self)
{
    return self->log;
}

const char *
tf_testsmb_share_path(tf_testsmb_t *self, const char *share)
{
    for (size_t i = 0; i < self->share_count; i++)
        if (strcmp(self->shares[i].name, share) == 0)
            return self->shares[i].path;
    return NULL;
}

const char *
tf_testsmb_url(tf_testsmb_t *self, const char *share, const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "smb://127.0.0.1:%d/%s%s%s", self->port, share, path && *path ? "/" : "", path ? path : "");
    return buf;
}

int
tf_testsmb_stop(tf_testsmb_t *self)
{
    if (!self->smbd)
        return -1;
    int pid = tf_testproc_pid(self->smbd);
    if (pid > 0)
        kill(-pid, SIGCONT);   /* a paused smbd would sit on the SIGTERM */
    tf_testproc_kill(self->smbd, SIGTERM);
    int status = 0;
    if (!tf_testproc_wait(self->smbd, 5000, &status))
        tf_testproc_kill(self->smbd, SIGKILL);
    /* its children (one per connection, notifyd, cleanupd) are in its group */
    if (pid > 0)
        kill(-pid, SIGKILL);
    tf_testproc_destroy(&self->smbd);
    return 0;
}

int
tf_testsmb_start_again(tf_testsmb_t *self, char *why, size_t why_size)
{
    if (self->smbd)
        tf_testsmb_stop(self);
    return s_start(self, why, why_size);
}

bool
tf_testsmb_running(tf_testsmb_t *self)
{
    return self->smbd && tf_testproc_alive(self->smbd);
}

/* Signals smbd's process group (smbd and the children it forked per connection). */
static int
s_signal_group(tf_testsmb_t *self, int sig)
{
    int pid = self->smbd ? tf_testproc_pid(self->smbd) : -1;
    if (pid <= 0 || !tf_testproc_alive(self->smbd))
        return -1;
    return kill(-pid, sig) == 0 ? 0 : -1;
}

int
tf_testsmb_pause(tf_testsmb_t *self)
{
    return s_signal_group(self, SIGSTOP);
}

int
tf_testsmb_resume(tf_testsmb_t *self)
{
    return s_signal_group(self, SIGCONT);
}

static int
s_restart_with_conf(tf_testsmb_t *self, char *why, size_t why_size)
{
    if (s_write_conf(self) != 0) {
        snprintf(why, why_size, "cannot write %s: %s", self->conf, strerror(errno));
        return -1;
    }
    return tf_testsmb_start_again(self, why, why_size);
}

int
tf_testsmb_add_share(tf_testsmb_t *self, const char *name, const char *path, char *why, size_t why_size)
{
    if (self->share_count == S_SHARES_MAX || strlen(name) >= sizeof self->shares[0].name ||
        tf_testsmb_share_path(self, name)) {
        snprintf(why, why_size, "cannot add share %s (exists, or %d shares already)", name, S_SHARES_MAX);
        return -1;
    }
    s_share_t *share = &self->shares[self->share_count];
    snprintf(share->name, sizeof share->name, "%s", name);
    if (path)
        snprintf(share->path, sizeof share->path, "%s", path);
    else if (s_share_folder(self, name, share->path, sizeof share->path) != 0) {
        snprintf(why, why_size, "cannot make the folder of share %s: %s", name, strerror(errno));
        return -1;
    }
    self->share_count++;
    return s_restart_with_conf(self, why, why_size);
}

int
tf_testsmb_remove_share(tf_testsmb_t *self, const char *name, char *why, size_t why_size)
{
    for (size_t i = 1; i < self->share_count; i++)   /* the first share stays: readiness uses it */
        if (strcmp(self->shares[i].name, name) == 0) {
            memmove(&self->shares[i], &self->shares[i + 1], (self->share_count - i - 1) * sizeof self->shares[0]);
            self->share_count--;
            return s_restart_with_conf(self, why, why_size);
        }
    snprintf(why, why_size, "no share %s to remove (the first share stays)", name);
    return -1;
}
