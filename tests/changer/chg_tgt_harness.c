/*  chg_tgt_harness - private tgtd with a virtual tape library for the changer tests. */
#define _GNU_SOURCE
#include "chg_tgt_harness.h"
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

#include "chg_test_util.h"

struct _chg_tgt_t {
    char dir[256];
    char log[300];
    char iqn[128];
    char changer_url[512];
    char drive_url[512];
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
s_tgtadm(chg_tgt_t *self, ...)
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

/* tgtadm ... logicalunit update --lun 2 --params TEXT */
static int
s_params(chg_tgt_t *self, const char *fmt, ...)
{
    char params[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(params, sizeof params, fmt, ap);
    va_end(ap);
    return s_tgtadm(self, "--mode", "logicalunit", "--op", "update", "--tid", "1", "--lun", "2",
                    "--params", params, (char *) NULL);
}

static chg_tgt_t *
s_fail(chg_tgt_t *self, char *why, size_t size, const char *what)
{
    snprintf(why, size, "%s", what);
    tf_test_log_tail(self->log, why, size);
    chg_tgt_stop(&self);
    return NULL;
}

static int
s_start_tgtd(chg_tgt_t *self, char *why, size_t why_size)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        return -1;
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
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            self->tgtd = -1;
            snprintf(why, why_size, "tgtd exited at start (status %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            tf_test_log_tail(self->log, why, why_size);
            return -1;
        }
        if (s_tgtadm(self, "--mode", "target", "--op", "show", (char *) NULL) == 0)
            return 0;
        s_sleep_ms(100);
    }
    snprintf(why, why_size, "tgtd did not answer tgtadm within 10 s");
    tf_test_log_tail(self->log, why, why_size);
    return -1;
}

chg_tgt_t *
chg_tgt_start(int slots, int tapes, int *no_tgtd, char *why, size_t why_size)
{
    return chg_tgt_start_sized(slots, tapes, 8, no_tgtd, why, why_size);
}

chg_tgt_t *
chg_tgt_start_sized(int slots, int tapes, int tape_mb, int *no_tgtd, char *why, size_t why_size)
{
    why[0] = '\0';
    *no_tgtd = 0;
    chg_tgt_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    self->tgtd = -1;
    if (ct_tempdir(self->dir, sizeof self->dir) != 0) {
        snprintf(why, why_size, "mkdtemp: %s", strerror(errno));
        free(self);
        return NULL;
    }
    snprintf(self->log, sizeof self->log, "%s/tgt.log", self->dir);
    snprintf(self->iqn, sizeof self->iqn, "iqn.2026-11.org.tapeflow:chg%d", (int) getpid());
    snprintf(self->control, sizeof self->control, "%d", 1000 + (int) ((getpid() + 7) % 30000));
    self->port = tf_test_free_port();
    snprintf(self->drive_url, sizeof self->drive_url, "iscsi://127.0.0.1:%d/%s/1", self->port,
             self->iqn);
    snprintf(self->changer_url, sizeof self->changer_url, "iscsi://127.0.0.1:%d/%s/2",
             self->port, self->iqn);
    if (self->port <= 0)
        return s_fail(self, why, why_size, "no free loopback port");
    char size_mb[16];
    snprintf(size_mb, sizeof size_mb, "%d", tape_mb > 0 ? tape_mb : 8);
    for (int i = 1; i <= tapes; i++) {
        char barcode[16], image[300];
        snprintf(barcode, sizeof barcode, "TFC%03dL6", i);
        snprintf(image, sizeof image, "%s/%s", self->dir, barcode);
        char *const argv[] = {"tgtimg", "--op", "new", "--device-type", "tape", "--barcode",
                              barcode, "--size", size_mb, "--type", "data", "--file", image, NULL};
        if (tf_test_run_logged(argv, self->log) != 0)
            return s_fail(self, why, why_size, "tgtimg could not create a tape image");
    }
    char smc[300];
    snprintf(smc, sizeof smc, "%s/smc", self->dir);
    int fd = open(smc, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 1024) != 0) {
        if (fd >= 0)
            close(fd);
        return s_fail(self, why, why_size, "cannot create the changer's backing file");
    }
    close(fd);
    if (s_start_tgtd(self, why, why_size) != 0) {
        *no_tgtd = 1;
        chg_tgt_stop(&self);
        return NULL;
    }
    if (s_tgtadm(self, "--mode", "target", "--op", "new", "--tid", "1", "--targetname",
                 self->iqn, (char *) NULL)
        != 0)
        return s_fail(self, why, why_size, "tgtadm could not create the target");
    self->target_created = 1;
    char quantity[16];
    snprintf(quantity, sizeof quantity, "%d", slots);
    if (s_tgtadm(self, "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
                 "--bstype", "ssc", "--device-type", "tape", (char *) NULL)
            != 0
        || s_tgtadm(self, "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "2",
                    "--backing-store", smc, "--device-type", "changer", (char *) NULL)
               != 0
        || s_params(self, "media_home=%s", self->dir) != 0
        || s_params(self, "element_type=1,start_address=1,quantity=1") != 0
        || s_params(self, "element_type=2,start_address=1000,quantity=%d", slots) != 0
        || s_params(self, "element_type=3,start_address=10,quantity=1") != 0
        || s_params(self, "element_type=4,start_address=500,quantity=1") != 0
        || s_params(self, "element_type=4,address=500,tid=1,lun=1") != 0)
        return s_fail(self, why, why_size, "tgtadm could not set up the library LUNs");
    for (int i = 1; i <= tapes; i++)
        if (s_params(self, "element_type=2,address=%d,barcode=TFC%03dL6,sides=1", 999 + i, i)
            != 0)
            return s_fail(self, why, why_size, "tgtadm could not put a tape in a slot");
    if (s_tgtadm(self, "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address",
                 "ALL", (char *) NULL)
        != 0)
        return s_fail(self, why, why_size, "tgtadm could not bind the target");
    for (int i = 0; i < 50 && !tf_test_port_accepts(self->port); i++)
        s_sleep_ms(100);
    if (!tf_test_port_accepts(self->port))
        return s_fail(self, why, why_size, "tgtd does not accept connections");
    return self;
}

void
chg_tgt_stop(chg_tgt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chg_tgt_t *self = *self_p;
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
    ct_remove_tree(self->dir);
    free(self);
    *self_p = NULL;
}

const char *
chg_tgt_changer_url(chg_tgt_t *self)
{
    return self->changer_url;
}

const char *
chg_tgt_drive_url(chg_tgt_t *self)
{
    return self->drive_url;
}
