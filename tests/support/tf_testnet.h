/*  tf_testnet - hosts on a private network for multi-host process tests.

    Each host is a network namespace of its own (named <prefix>-<host>, prefix "tf-<pid>"),
    with lo up and one veth whose other end sits on a bridge in a further namespace
    (<prefix>-br); hosts get 10.x.y.N/24 addresses on that bridge. Nothing is added to the
    namespace the test runs in, so the test's traffic stays between its own hosts, whatever
    networks the machine has.

    A host made with private_files also runs in a mount namespace of its own, with a tmpfs on
    the test's files folder (tf_testnet_files: the same path on every such host, empty
    elsewhere): its files are invisible to the other hosts. A long-lived holder process keeps
    that namespace; commands run "on" a host through nsenter (tf_testnet_wrap), and the test
    reads and writes a host's files through /proc/<holder>/root (tf_testnet_path).

    Namespaces share the UTS name: a test gives each host its own tapeflow/host.

    Teardown cannot be forgotten or skipped: tf_testnet_new starts a watchdog (a shell in a
    session of its own) that waits on a pipe only this process holds. When the pipe closes -
    tf_testnet_destroy, or the test dying of a failed assertion, a signal or SIGKILL - the
    watchdog kills every process in the test's namespaces and deletes them.

    Needs root, iproute2 (ip), util-linux (nsenter, unshare), and tcpdump for captures. A test
    that cannot make namespaces skips (tf_testnet_skip).
*/
#ifndef TF_TESTNET_H_INCLUDED
#define TF_TESTNET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "tf_testproc.h"

/* What a test returns when it skips; its ctest entry has SKIP_RETURN_CODE set to it. */
#define TF_TESTNET_SKIP 77

typedef struct _tf_testnet_t tf_testnet_t;

/* True when this process can make network namespaces (it tries one); false with the reason in
   why (not root, no ip, ip netns add refused and what it said). */
bool tf_testnet_possible(char *why, size_t why_size);
/* Prints "skipped: cannot create network namespaces (needs root and iproute2): <why>" and
   returns TF_TESTNET_SKIP, for main to return. */
int tf_testnet_skip(const char *why);

/* A new network with its bridge and watchdog; its folder (logs, the files folder) is a new
   temp folder. NULL with the reason in why. */
tf_testnet_t *tf_testnet_new(char *why, size_t why_size);
/* Kills every process in the network's namespaces, deletes them, removes the folder (kept
   with TF_KEEP_TEST_DIRS), nulls the pointer. Processes started through tf_testnet_start are
   killed with the rest; the caller still destroys their tf_testproc_t. */
void tf_testnet_destroy(tf_testnet_t **self_p);

/* "tf-<pid>": the start of every namespace name of this network. */
const char *tf_testnet_prefix(tf_testnet_t *self);
/* The network's folder (on the file system every host shares). */
const char *tf_testnet_dir(tf_testnet_t *self);
/* The folder each private_files host sees its own tmpfs at. */
const char *tf_testnet_files(tf_testnet_t *self);

/* Adds host name (letters, digits, '-'; up to 12 characters) on the bridge. 0, or -1 with
   the reason in why. */
int tf_testnet_add_host(tf_testnet_t *self, const char *name, bool private_files, char *why, size_t why_size);
/* The host's address ("10.x.y.N"), NULL for an unknown host. */
const char *tf_testnet_addr(tf_testnet_t *self, const char *host);
/* The command prefix that runs a program on the host (nsenter ... --), NULL-terminated; NULL
   for an unknown host. Valid as long as the network. */
char *const *tf_testnet_wrap(tf_testnet_t *self, const char *host);
/* Where the test reads path as the host sees it (/proc/<holder>/root/path for private_files
   hosts, path itself for the others), into buf; buf. */
const char *tf_testnet_path(tf_testnet_t *self, const char *host, const char *path, char *buf, size_t size);

/* Runs argv (argv[0] a path, or a name looked up in PATH) on the host to completion; exit
   status (-1 when it timed out or did not run), stdout in *out (caller frees; may be NULL). */
int tf_testnet_run(tf_testnet_t *self, const char *host, char *const argv[], char *const env[], int timeout_ms,
                   char **out);
/* Starts argv on the host (as tf_testproc_start: output appended to log). NULL when it did not
   start. */
tf_testproc_t *tf_testnet_start(tf_testnet_t *self, const char *host, char *const argv[], char *const env[],
                                const char *log);

/* Records every frame on the bridge into pcap (tcpdump), returning once tcpdump listens. One
   capture at a time. 0, or -1 with why. */
int tf_testnet_capture_start(tf_testnet_t *self, const char *pcap, char *why, size_t why_size);
/* Stops the capture and waits for tcpdump to have written everything. 0, or -1 with why. */
int tf_testnet_capture_stop(tf_testnet_t *self, char *why, size_t why_size);

/* True when needle (len bytes) occurs in the file's bytes (a capture); false when it does not
   or the file cannot be read (*size -1 then). *size gets the file's size. */
bool tf_testnet_file_holds(const char *path, const void *needle, size_t len, long *size);

#endif
