/*  tgt_harness - private tgtd for the drive tests. */
#include "tgt_harness.h"
#include "tf_testproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct _tgt_harness_t {
    char dir[256];
    char image[300];
    char log[300];
    char iqn[128];
    char url[512];
    char control[16];
    int port;
    pid_t tgtd;
    int target_created;
};

static void
s_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* tgtadm -C N --lld iscsi ARGS... (NULL-terminated). */
static int
s_tgtadm(tgt_harness_t *self, ...)
{
    const char *argv[32] = {"tgtadm", "-C", self->control, "--lld", "iscsi"};
    int n = 5;
    va_list ap;
    va_start(ap, self);
    const char *arg;
    while (n < 31 && (arg = va_arg(ap, const char *)) != NULL)
        argv[n++] = arg;
    va_end(ap);
    argv[n] = NULL;
    return tf_test_run_logged((char *const *) argv, self->log);
}

tgt_harness_t *
tgt_harness_start(int size_mb, char *why, size_t why_size)
{
    why[0] = '\0';
    tgt_harness_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    self->tgtd = -1;
    snprintf(self->dir, sizeof self->dir, "/tmp/tf-tgt-XXXXXX");
    if (!mkdtemp(self->dir)) {
        snprintf(why, why_size, "mkdtemp: %s", strerror(errno));
        free(self);
        return NULL;
    }
    snprintf(self->image, sizeof self->image, "%s/tape.img", self->dir);
    snprintf(self->log, sizeof self->log, "%s/tgt.log", self->dir);
    snprintf(self->iqn, sizeof self->iqn, "iqn.2026-11.org.tapeflow:test%d", (int) getpid());
    snprintf(self->control, sizeof self->control, "%d", 1000 + (int) (getpid() % 30000));
    self->port = tf_test_free_port();
    snprintf(self->url, sizeof self->url, "iscsi://127.0.0.1:%d/%s/1", self->port, self->iqn);
    char size[16];
    snprintf(size, sizeof size, "%d", size_mb);
    char *const img_argv[] = {"tgtimg", "--op", "new", "--device-type", "tape", "--barcode",
                              "TFTEST01", "--size", size, "--type", "data", "--file",
                              self->image, NULL};
    if (self->port <= 0 || tf_test_run_logged(img_argv, self->log) != 0) {
        snprintf(why, why_size, "tgtimg could not create a tape image");
        tf_test_log_tail(self->log, why, why_size);
        tgt_harness_stop(&self);
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        tgt_harness_stop(&self);
        return NULL;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(self->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char portal[64];
        snprintf(portal, sizeof portal, "portal=127.0.0.1:%d", self->port);
        execlp("tgtd", "tgtd", "-f", "-C", self->control, "--iscsi", portal, (char *) NULL);
        _exit(127);
    }
    self->tgtd = pid;
    /* Wait for the control socket. */
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            self->tgtd = -1;
            snprintf(why, why_size, "tgtd exited at start (status %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            tf_test_log_tail(self->log, why, why_size);
            tgt_harness_stop(&self);
            return NULL;
        }
        ready = s_tgtadm(self, "--mode", "target", "--op", "show", (char *) NULL) == 0;
        if (!ready)
            s_sleep_ms(100);
    }
    if (!ready) {
        snprintf(why, why_size, "tgtd did not answer tgtadm within 10 s");
        tf_test_log_tail(self->log, why, why_size);
        tgt_harness_stop(&self);
        return NULL;
    }
    if (s_tgtadm(self, "--mode", "target", "--op", "new", "--tid", "1", "--targetname",
                 self->iqn, (char *) NULL) != 0) {
        snprintf(why, why_size, "tgtadm could not create the target");
        tf_test_log_tail(self->log, why, why_size);
        tgt_harness_stop(&self);
        return NULL;
    }
    self->target_created = 1;
    if (s_tgtadm(self, "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
                 "--backing-store", self->image, "--bstype", "ssc", "--device-type", "tape",
                 (char *) NULL)
            != 0
        || s_tgtadm(self, "--mode", "target", "--op", "bind", "--tid", "1",
                    "--initiator-address", "ALL", (char *) NULL)
               != 0) {
        snprintf(why, why_size, "tgtadm could not add the tape LUN");
        tf_test_log_tail(self->log, why, why_size);
        tgt_harness_stop(&self);
        return NULL;
    }
    for (int i = 0; i < 50 && !tf_test_port_accepts(self->port); i++)
        s_sleep_ms(100);
    if (!tf_test_port_accepts(self->port)) {
        snprintf(why, why_size, "tgtd does not accept connections on port %d", self->port);
        tgt_harness_stop(&self);
        return NULL;
    }
    return self;
}

void
tgt_harness_stop(tgt_harness_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tgt_harness_t *self = *self_p;
    if (self->tgtd > 0) {
        if (self->target_created)
            s_tgtadm(self, "--mode", "target", "--op", "delete", "--force", "--tid", "1",
                     (char *) NULL);
        kill(self->tgtd, SIGTERM);
        int gone = 0;
        for (int i = 0; i < 30 && !gone; i++) {
            if (waitpid(self->tgtd, NULL, WNOHANG) == self->tgtd)
                gone = 1;
            else
                s_sleep_ms(100);
        }
        if (!gone) {
            kill(self->tgtd, SIGKILL);
            waitpid(self->tgtd, NULL, 0);
        }
    }
    unlink(self->image);
    unlink(self->log);
    rmdir(self->dir);
    free(self);
    *self_p = NULL;
}

const char *
tgt_harness_url(tgt_harness_t *self)
{
    return self->url;
}

int
tgt_harness_port(tgt_harness_t *self)
{
    return self->port;
}

const char *
tgt_harness_iqn(tgt_harness_t *self)
{
    return self->iqn;
}
