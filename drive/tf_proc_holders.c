/*  tf_proc_holders - find processes holding a file open via /proc/<pid>/fd. */
#include "tf_proc_holders.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Reads /proc/<pid>/comm (one line) into name; "?" when unreadable. */
static void
s_read_comm(const char *proc_root, const char *pid, char *name, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/comm", proc_root, pid);
    snprintf(name, size, "?");
    FILE *file = fopen(path, "r");
    if (!file)
        return;
    if (fgets(name, (int) size, file)) {
        size_t len = strlen(name);
        while (len > 0 && (name[len - 1] == '\n' || name[len - 1] == '\r'))
            name[--len] = '\0';
    }
    fclose(file);
}

static bool
s_all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char) *s))
            return false;
    return true;
}

/* True when some fd of process pid refers to the file identified by target. */
static bool
s_pid_holds(const char *proc_root, const char *pid, const struct stat *target)
{
    char fd_dir[4096];
    snprintf(fd_dir, sizeof fd_dir, "%s/%s/fd", proc_root, pid);
    DIR *dir = opendir(fd_dir);
    if (!dir)
        return false;
    bool found = false;
    struct dirent *entry;
    while (!found && (entry = readdir(dir)) != NULL) {
        if (!s_all_digits(entry->d_name))
            continue;
        char link[4096 + 300];
        snprintf(link, sizeof link, "%s/%s", fd_dir, entry->d_name);
        struct stat st;
        if (stat(link, &st) != 0)
            continue;
        bool same_node = st.st_dev == target->st_dev && st.st_ino == target->st_ino;
        bool same_device = S_ISCHR(target->st_mode) && S_ISCHR(st.st_mode)
                           && st.st_rdev == target->st_rdev;
        found = same_node || same_device;
    }
    closedir(dir);
    return found;
}

int
tf_proc_holders(const char *proc_root, const char *path, char *buf, size_t size)
{
    if (buf && size)
        buf[0] = '\0';
    if (!proc_root || !path || !buf || size == 0)
        return 0;
    struct stat target;
    if (stat(path, &target) != 0)
        return 0;
    DIR *dir = opendir(proc_root);
    if (!dir)
        return 0;
    int count = 0;
    size_t used = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (!s_all_digits(entry->d_name))
            continue;
        if (!s_pid_holds(proc_root, entry->d_name, &target))
            continue;
        char comm[64];
        s_read_comm(proc_root, entry->d_name, comm, sizeof comm);
        int n = snprintf(buf + used, size - used, "%spid %s (%s)", count ? ", " : "",
                         entry->d_name, comm);
        if (n > 0 && used + (size_t) n < size)
            used += (size_t) n;
        count++;
    }
    closedir(dir);
    return count;
}
