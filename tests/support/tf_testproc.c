/*  tf_testproc - real child processes for integration tests. */
#define _GNU_SOURCE
#include "tf_testproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TF_TEST_BIN_DIR
#define TF_TEST_BIN_DIR "."
#endif

extern char **environ;

struct _tf_testproc_t {
    pid_t pid;
    bool exited;
    int status;
};

static long long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
tf_test_bindir(void)
{
    const char *env = getenv("TAPEFLOW_BIN_DIR");
    return env && *env ? env : TF_TEST_BIN_DIR;
}

static void
s_resolve(const char *exe, char *path, size_t size)
{
    if (strchr(exe, '/'))
        snprintf(path, size, "%s", exe);
    else
        snprintf(path, size, "%s/%s", tf_test_bindir(), exe);
}

/* Builds environ + extras; a later K=V replaces an earlier one with the same K. */
static char **
s_environment(char *const env_extra[])
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env_extra && env_extra[extra])
        extra++;
    char **env = calloc(n + extra + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t) (eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < extra; j++)
            if (strncmp(env_extra[j], environ[i], klen) == 0 && env_extra[j][klen] == '=')
                overridden = true;
        if (!overridden)
            env[used++] = environ[i];
    }
    for (size_t j = 0; j < extra; j++)
        env[used++] = env_extra[j];
    env[used] = NULL;
    return env;
}

static pid_t
s_spawn(const char *exe, char *const argv[], char *const env_extra[], int out_fd, int err_fd)
{
    char path[PATH_MAX];
    s_resolve(exe, path, sizeof path);
    char **env = s_environment(env_extra);
    if (!env)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (out_fd >= 0)
            dup2(out_fd, STDOUT_FILENO);
        if (err_fd >= 0)
            dup2(err_fd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        setpgid(0, 0);  /* own group: a test's signal to us never reaches the child twice */
        execve(path, argv, env);
        fprintf(stderr, "tf_testproc: cannot exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    free(env);
    return pid;
}

tf_testproc_t *
tf_testproc_start(const char *exe, char *const argv[], char *const env_extra[],
                  const char *log_path)
{
    int fd = -1;
    if (log_path) {
        fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "tf_testproc: cannot open log %s: %s\n", log_path, strerror(errno));
            return NULL;
        }
    }
    tf_testproc_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    self->pid = s_spawn(exe, argv, env_extra, fd, fd);
    if (fd >= 0)
        close(fd);
    if (self->pid < 0) {
        free(self);
        return NULL;
    }
    return self;
}

int
tf_testproc_pid(tf_testproc_t *self)
{
    return self ? (int) self->pid : -1;
}

int
tf_testproc_kill(tf_testproc_t *self, int sig)
{
    if (!self || self->exited)
        return -1;
    return kill(self->pid, sig);
}

bool
tf_testproc_wait(tf_testproc_t *self, int timeout_ms, int *status)
{
    if (!self)
        return false;
    long long deadline = s_now_ms() + timeout_ms;
    while (!self->exited) {
        pid_t r = waitpid(self->pid, &self->status, WNOHANG);
        if (r == self->pid)
            self->exited = true;
        else if (r < 0 && errno != EINTR) {
            self->exited = true;  /* not our child any more: nothing to wait for */
            self->status = -1;
        }
        else if (s_now_ms() >= deadline)
            return false;
        else
            usleep(10000);
    }
    if (status)
        *status = self->status;
    return true;
}

bool
tf_testproc_alive(tf_testproc_t *self)
{
    return self && !tf_testproc_wait(self, 0, NULL);
}

void
tf_testproc_destroy(tf_testproc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_testproc_t *self = *self_p;
    if (!self->exited) {
        kill(self->pid, SIGKILL);
        tf_testproc_wait(self, 10000, NULL);
    }
    free(self);
    *self_p = NULL;
}

int
tf_test_run(const char *exe, char *const argv[], char *const env_extra[], int timeout_ms, char **out)
{
    if (out)
        *out = NULL;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = s_spawn(exe, argv, env_extra, pipefd[1], -1);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        return -1;
    }
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    long long deadline = s_now_ms() + timeout_ms;
    int status = -1;
    bool exited = false, eof = false;
    while (buf && (!exited || !eof)) {
        if (!eof) {
            if (len + 1024 > cap) {
                char *bigger = realloc(buf, cap * 2);
                if (!bigger)
                    break;
                buf = bigger;
                cap *= 2;
            }
            ssize_t n = read(pipefd[0], buf + len, cap - len - 1);
            if (n > 0)
                len += (size_t) n;
            else if (n == 0)
                eof = true;
        }
        if (!exited && waitpid(pid, &status, WNOHANG) == pid)
            exited = true;
        if (s_now_ms() > deadline) {
            if (!exited) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
            }
            status = -1;
            break;
        }
        if (!exited || !eof)
            usleep(5000);
    }
    close(pipefd[0]);
    if (buf)
        buf[len] = '\0';
    if (out)
        *out = buf;
    else
        free(buf);
    if (status == -1)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *
tf_test_tempdir(const char *prefix)
{
    char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "/tmp/%.16s-XXXXXX", prefix ? prefix : "tf");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    remove(path);
    return 0;
}

void
tf_test_rmtree(const char *path)
{
    if (path && strncmp(path, "/tmp/", 5) == 0)
        nftw(path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

void
tf_test_dir_done(char **dir_p)
{
    if (!dir_p || !*dir_p)
        return;
    if (getenv("TF_KEEP_TEST_DIRS"))
        fprintf(stderr, "kept %s\n", *dir_p);
    else
        tf_test_rmtree(*dir_p);
    free(*dir_p);
    *dir_p = NULL;
}

int
tf_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *) &addr, sizeof addr) == 0
        && getsockname(fd, (struct sockaddr *) &addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

bool
tf_test_port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

int
tf_test_run_logged(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
tf_test_log_tail(const char *log, char *why, size_t size)
{
    FILE *file = fopen(log, "r");
    if (!file)
        return;
    char line[256], last[256] = "";
    while (fgets(line, sizeof line, file))
        if (line[0] != '\n')
            snprintf(last, sizeof last, "%s", line);
    fclose(file);
    size_t used = strlen(why);
    last[strcspn(last, "\n")] = '\0';
    if (last[0] && used + 4 < size)
        snprintf(why + used, size - used, " (log: %s)", last);
}

bool
tf_test_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    long long deadline = s_now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (s_now_ms() >= deadline)
            return false;
        usleep(20000);
    }
}

char *
tf_test_read_file(const char *path)
{
    size_t size;
    return tf_test_read_bytes(path, &size);
}

char *
tf_test_read_bytes(const char *path, size_t *size)
{
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        *size = len;
    }
    return buf;
}
