/*  tf_proc_holders - names the processes that hold a file or device node open, by scanning
    PROC/<pid>/fd (what fuser does). Used to turn EBUSY into "in use by pid 1234 (bacula-sd)".
*/
#ifndef TF_PROC_HOLDERS_H_INCLUDED
#define TF_PROC_HOLDERS_H_INCLUDED

#include <stddef.h>

/* Scans proc_root ("/proc" on a live system) for open descriptors that refer to the same file as
   path (same device and inode). Writes "pid 123 (dd), pid 456 (bacula-sd)" into buf and returns
   how many processes were found (0 when none or when proc could not be read). */
int tf_proc_holders(const char *proc_root, const char *path, char *buf, size_t size);

#endif
