/*  tf_tree - deterministic file trees for tests and benchmarks, and a comparison of two trees
    by content and metadata.

    A generated tree mixes sizes (mostly small, some medium, a few large) and compressibility
    (text-like, repetitive, random), and, when asked, the cases backups get wrong: symlinks
    (also dangling), hard links, empty folders, non-ASCII names, a sparse file, odd modes and
    old mtimes. The same seed always gives the same tree.
*/
#ifndef TF_TREE_H_INCLUDED
#define TF_TREE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t files;       /* regular files to create (approximately, special cases add a few) */
    uint64_t bytes;       /* total content bytes to aim for */
    uint64_t seed;
    bool special;         /* symlinks, hard links, empty dirs, non-ASCII names, sparse file */
    uint64_t link_groups; /* hard-linked files whose names lie in neighbouring folders (2 or 3
                             names each, the later ones a folder further in walk order); needs
                             files > 100 (two folders) */
    bool nsec_times;      /* every file, folder and symlink gets an mtime with nanoseconds */
} tf_tree_spec_t;

typedef struct {
    uint64_t files;
    uint64_t dirs;
    uint64_t symlinks;
    uint64_t hardlinks;   /* extra names of files already counted */
    uint64_t bytes;       /* content bytes of regular files (hard links once) */
} tf_tree_stats_t;

/* Creates the tree under root (which must not exist or be empty). 0 or -1 with why. */
int tf_tree_generate(const char *root, const tf_tree_spec_t *spec, tf_tree_stats_t *stats,
                     char *why, size_t why_size);

/* Compares trees a and b: same names, types, content, permission bits, owners, mtimes (files
   and folders, to the second), symlink targets, hard-link structure. Sparse files must stay
   sparse when check_sparse. Returns 0 when equal, else -1 and the first difference in why. */
int tf_tree_compare(const char *a, const char *b, bool check_sparse, char *why, size_t why_size);

/* tf_tree_compare, and mtimes to the nanosecond, symlinks' included. */
int tf_tree_compare_strict(const char *a, const char *b, bool check_sparse, char *why, size_t why_size);

/* Entries under root, root included, symlinks not followed (what `find ROOT | wc -l` counts
   and a catalog holds for a backup of root); -1 when it cannot be read. */
long tf_tree_entries(const char *root);

/* n files root/random-NN.bin of size bytes each, xorshift content no compressor shrinks (to
   fill a share or a tape with a known amount), in a new folder root. 0 or -1 with why. */
int tf_tree_random_files(const char *root, int n, size_t size, uint64_t seed, char *why, size_t why_size);

#endif
