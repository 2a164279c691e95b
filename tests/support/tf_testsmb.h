/*  tf_testsmb - a private Samba smbd for replication tests (issue 12).

    smbd runs on a free loopback port with a config of its own in a temp folder (private,
    lock, state, cache, pid and ncalrpc dirs, its log), no kernel module, no system service
    touched. One share `backup` (a folder in the temp folder, writable); more can be added.
    The SMB user is root when smbd accepts it, else a dedicated Unix user (useradd -M) whose
    SMB password this harness sets in its private passdb. A credentials file in smbclient -A
    format (0600) holds the user and password.

    smbd runs in the foreground with --no-process-group, in a process group of its own
    (tf_testproc), so the signals it sends its group when it stops never reach the test; it
    is started through setpriv --pdeathsig KILL (util-linux), so it dies with the test even
    when the test's teardown never runs.
    Ready means `smbclient -A CREDS //127.0.0.1/backup -c ls` succeeds on the port.

        tf_testsmb_t *smb = tf_testsmb_new(why, sizeof why);
        tf_testsmb_url(smb, "backup", "tf", url, sizeof url);   // smb://127.0.0.1:N/backup/tf
        ... files land in tf_testsmb_share_path(smb, "backup") ...
        tf_testsmb_stop(smb); tf_testsmb_start_again(smb, why, sizeof why);
        tf_testsmb_pause(smb); tf_testsmb_resume(smb);   // frozen: clients time out
        tf_testsmb_destroy(&smb);   // stops smbd, removes the folder (TF_KEEP_TEST_DIRS keeps it)
*/
#ifndef TF_TESTSMB_H_INCLUDED
#define TF_TESTSMB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _tf_testsmb_t tf_testsmb_t;

/* Starts smbd and waits until it serves the backup share. NULL with the reason in why (no
   smbd, it did not start or did not accept the user: the last line of its log is included). */
tf_testsmb_t *tf_testsmb_new(char *why, size_t why_size);
/* Stops smbd (SIGTERM, then SIGKILL of its group), removes its folder, nulls the pointer. */
void tf_testsmb_destroy(tf_testsmb_t **self_p);

/* The port smbd listens on (127.0.0.1). */
int tf_testsmb_port(tf_testsmb_t *self);
/* The SMB user ("root" or the dedicated one) and its password. */
const char *tf_testsmb_user(tf_testsmb_t *self);
const char *tf_testsmb_password(tf_testsmb_t *self);
/* The credentials file (smbclient -A format, mode 0600). */
const char *tf_testsmb_creds(tf_testsmb_t *self);
/* The harness's folder (smb.conf, smbd.log, the default share's folder). */
const char *tf_testsmb_dir(tf_testsmb_t *self);
const char *tf_testsmb_log(tf_testsmb_t *self);
/* The folder a share serves (what smbd writes into), NULL for an unknown share. */
const char *tf_testsmb_share_path(tf_testsmb_t *self, const char *share);
/* "smb://127.0.0.1:PORT/SHARE[/PATH]" into buf (path "" or NULL: the share itself); buf. */
const char *tf_testsmb_url(tf_testsmb_t *self, const char *share, const char *path, char *buf, size_t size);

/* Stops smbd (SIGTERM, up to 5 s, then SIGKILL of its process group); 0, -1 when it was not
   running. The folder and the port stay. */
int tf_testsmb_stop(tf_testsmb_t *self);
/* Starts smbd again on the same port and waits until it serves; 0, or -1 with why. */
int tf_testsmb_start_again(tf_testsmb_t *self, char *why, size_t why_size);
bool tf_testsmb_running(tf_testsmb_t *self);
/* Freezes smbd and its children (SIGSTOP to its process group): it still accepts connections
   (the kernel's backlog) but answers nothing, so a client waits its own timeout instead of
   failing at once. 0, -1 when it is not running. */
int tf_testsmb_pause(tf_testsmb_t *self);
/* Lets a paused smbd run again (SIGCONT): the clients waiting get their answers. 0 or -1. */
int tf_testsmb_resume(tf_testsmb_t *self);

/* Adds share name serving folder path (NULL: a new folder in the harness's folder; it must be
   writable by the SMB user) and restarts smbd with the new config; 0, or -1 with why. */
int tf_testsmb_add_share(tf_testsmb_t *self, const char *name, const char *path, char *why, size_t why_size);
/* Removes a share from the config (its folder stays) and restarts smbd; 0, or -1 with why. */
int tf_testsmb_remove_share(tf_testsmb_t *self, const char *name, char *why, size_t why_size);

#endif
