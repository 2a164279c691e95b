/*  tf-gencorpus - writes the deterministic benchmark corpus (tests/support/tf_tree).

    usage: tf-gencorpus DIR [--files N] [--bytes SIZE] [--seed N] [--special]
           tf-gencorpus --compare A B
    SIZE takes K, M, G suffixes (powers of 1024). --compare checks two trees are identical in
    content and metadata (exit 0) or prints the first difference (exit 1).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_tree.h"

static unsigned long long
s_size(const char *text)
{
    char *end = NULL;
    unsigned long long n = strtoull(text, &end, 10);
    switch (end && *end ? *end : ' ') {
    case 'k': case 'K': n <<= 10; break;
    case 'm': case 'M': n <<= 20; break;
    case 'g': case 'G': n <<= 30; break;
    default: break;
    }
    return n;
}

int
main(int argc, char **argv)
{
    tf_tree_spec_t spec = {.files = 50000, .bytes = 1ULL << 30, .seed = 1, .special = false};
    const char *dir = NULL;
    if (argc == 4 && strcmp(argv[1], "--compare") == 0) {
        char why[1024];
        if (tf_tree_compare(argv[2], argv[3], true, why, sizeof why) != 0) {
            printf("trees differ: %s\n", why);
            return 1;
        }
        printf("identical: %s and %s (content, modes, owners, times, links)\n", argv[2], argv[3]);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--files") == 0 && i + 1 < argc)
            spec.files = s_size(argv[++i]);
        else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc)
            spec.bytes = s_size(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            spec.seed = s_size(argv[++i]);
        else if (strcmp(argv[i], "--special") == 0)
            spec.special = true;
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "usage: tf-gencorpus DIR [--files N] [--bytes SIZE] [--seed N] [--special]\n");
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: tf-gencorpus DIR [--files N] [--bytes SIZE] [--seed N] [--special]\n");
        return 2;
    }
    tf_tree_stats_t st;
    char why[512];
    if (tf_tree_generate(dir, &spec, &st, why, sizeof why) != 0) {
        fprintf(stderr, "tf-gencorpus: %s\n", why);
        return 1;
    }
    printf("%llu files, %llu folders, %llu bytes in %s\n", (unsigned long long) st.files,
           (unsigned long long) st.dirs, (unsigned long long) st.bytes, dir);
    return 0;
}
