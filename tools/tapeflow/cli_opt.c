/*  cli_opt - options and verbs of the tapeflow commands (see cli_opt.h). */
#define _GNU_SOURCE
#include "cli_opt.h"

#include <getopt.h>
#include <string.h>

void
cli_opt_begin(void)
{
    /* 0, not 1: glibc then also forgets where it was inside a group of short options. */
    optind = 0;
    opterr = 0;
}

int
cli_opt_error(const char *command, int opt, int argc, char **argv)
{
    /* getopt_long has stepped past the word that held a long option or ended a group of
       short ones; a short option's letter is in optopt. */
    const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
    bool is_long = word && strncmp(word, "--", 2) == 0
                   && (optopt == 0 || opt == ':' || strchr(word, '='));
    char name[128];
    if (is_long)
        snprintf(name, sizeof name, "%.*s", (int) strcspn(word, "="), word);
    else if (optopt > 0 && optopt < 128)
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%s", word ? word : "?");
    /* "tapeflow tape label: ..." and "try 'tapeflow tape label --help'"; tapeflow's own
       options (command NULL) say "tapeflow: ..." and "try 'tapeflow --help'". */
    char who[160];
    snprintf(who, sizeof who, "tapeflow%s%.140s", command ? " " : "", command ? command : "");
    if (opt == ':')
        fprintf(stderr, "%s: option '%s' needs a value; try '%s --help'\n", who, name, who);
    else if (is_long && optopt != 0)   /* --json=yes */
        fprintf(stderr, "%s: option '%s' takes no value; try '%s --help'\n", who, name, who);
    else
        fprintf(stderr, "%s: unknown option '%s'; try '%s --help'\n", who, name, who);
    return CLI_EXIT_USAGE;
}

bool
cli_opt_is_help(const char *word)
{
    return word
           && (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0);
}

const char *
cli_verb_names(const cli_verb_t *verbs, char *buf, size_t size)
{
    size_t n = 0;
    while (verbs[n].name)
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                 verbs[i].name);
    }
    return buf;
}

int
cli_verb_run(cli_t *cli, const char *command, const cli_verb_t *verbs, void (*usage)(FILE *out),
             int argc, char **argv)
{
    char names[256];
    cli_verb_names(verbs, names, sizeof names);
    if (argc < 2) {
        fprintf(stderr, "tapeflow %s: which %s command? %s\n", command, command, names);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *word = argv[1];
    if (cli_opt_is_help(word)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; verbs[i].name; i++)
        if (strcmp(verbs[i].name, word) == 0)
            return verbs[i].fn(cli, argc - 1, argv + 1);
    return cli_verb_unknown(command, names, word);
}

int
cli_verb_unknown(const char *command, const char *names, const char *word)
{
    if (word[0] == '-')
        fprintf(stderr, "tapeflow %s: unknown option '%s' (the %s command comes first: %s); try "
                        "'tapeflow %s --help'\n", command, word, command, names, command);
    else
        fprintf(stderr, "tapeflow %s: unknown %s command '%s' (%s); try 'tapeflow %s --help'\n",
                command, command, word, names, command);
    return CLI_EXIT_USAGE;
}
