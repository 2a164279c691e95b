/*  tf_pipeline_ids - the deterministic ids the pipeline stages agree on (docs/pipeline.md). */
#ifndef TF_PIPELINE_IDS_H_INCLUDED
#define TF_PIPELINE_IDS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest id we build: job ids are at most TF_MSG_MAX_ID (128) bytes. */
#define TF_ID_MAX 160

/* The groups of one host's scan in a job of several hosts are numbered from its index times
   this (scan_job.group_base): host 0 has groups 1..999,999, host 1 from 1,000,000, ... A host's
   scan that needs more fails rather than take the next host's numbers. */
#define TF_ID_HOST_GROUP_STRIDE 1000000u

/* "<job>-g<NNNNN>" (group numbers from 1; more than 99,999 groups just get more digits). */
const char *tf_id_archive(char *buf, size_t size, const char *job_id, uint64_t group_no);
/* "<base><suffix>", e.g. "<archive>-tape", "<job>-scan". */
const char *tf_id_join(char *buf, size_t size, const char *base, const char *suffix);
/* "<archive>-files-<part>" */
const char *tf_id_files(char *buf, size_t size, const char *archive_id, uint64_t part);

/* Whether an archive id from the network is safe as a file name on the holding disk:
   1..128 bytes of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool tf_id_safe_name(const char *id);

/* Whether name can be a replication target (replicas/NAME): tf_id_safe_name, and not "tape"
   (the catalog names tape copies so). The one target-name check of the stager, the catalog
   and job start. */
bool tf_id_target_name(const char *name);
/* The one reader of comma lists of names ("nas,offsite"; blanks around an entry are dropped):
   the next entry of *cursor into name (size bytes), *cursor moved past it and its comma; false
   at the end of the list ("" has no entry, "nas," one). Empty entries are returned (""), and
   an entry that does not fit in name is never cut: name is "" then, so a name check refuses it.
       for (const char *p = list; tf_id_list_next(&p, name, sizeof name);) ... */
bool tf_id_list_next(const char **cursor, char *name, size_t size);
/* Whether every entry of a comma list is a tf_id_target_name ("" is: no targets). */
bool tf_id_target_list_ok(const char *list);

#endif
