/*  cli_opt - how every tapeflow command reads its words: options with getopt_long, verbs from a
    table.

    The convention (docs/operations.md, "The command line"): options may stand anywhere among
    the operands; -h/--help prints the usage on stdout and exits 0; an unknown option, or one
    missing its value, is a usage error on stderr that names it and says "try 'tapeflow
    COMMAND --help'" (exit 2). A command with verbs (tape label, changer list, job cancel)
    takes the verb as its first word and hands the rest to that verb, which parses like a
    command of its own.

    A command's parser:

        cli_opt_begin();
        while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1)
            switch (opt) {
            case 'j': json = true; break;
            case 'h': usage(stdout); return CLI_EXIT_OK;
            default: return cli_opt_error("tape label", opt, argc, argv);
            }

    The optstring starts with ':' so that a missing value is told apart from an unknown option,
    and holds only the short options the command's usage shows (-h; the long options' letters
    are their ids in the table, not short options).
    This unit depends on nothing but the C library, so tests that build a command's file on its
    own (cmd_changer.c, cmd_drive.c) link it alone.
*/
#ifndef CLI_OPT_H_INCLUDED
#define CLI_OPT_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"

/* Resets getopt for a fresh argv (argv[0] is the command or verb word; parsing starts at
   argv[1]), with getopt's own messages off. */
void cli_opt_begin(void);

/* The usage error for what getopt_long just returned ('?' or ':'): "tapeflow COMMAND: unknown
   option '--x'; try 'tapeflow COMMAND --help'" (or "option '--pool' needs a value", "option
   '--json' takes no value") on stderr. command is the words after tapeflow ("tape label"),
   NULL for tapeflow's own options. Returns CLI_EXIT_USAGE. */
int cli_opt_error(const char *command, int opt, int argc, char **argv);

/* True when word asks for help: -h, --help or help. */
bool cli_opt_is_help(const char *word);

/* Runs the verb argv[1] of command from verbs (cli_verb_t, cli.h) with argv shifted by one. "COMMAND", "COMMAND
   --help|-h|help" print usage (on stderr with exit 2 when the verb is missing, else on stdout
   with exit 0); an option or an unknown word in place of the verb is a usage error naming it
   and the verbs. */
int cli_verb_run(cli_t *cli, const char *command, const cli_verb_t *verbs,
                 void (*usage)(FILE *out), int argc, char **argv);

/* The usage error for word where a verb of command belongs: "tapeflow tape: unknown tape
   command 'x' (label, ...); try 'tapeflow tape --help'" (an option: "unknown option '--x' (the
   tape command comes first: ...)"). names lists the verbs. Returns CLI_EXIT_USAGE. */
int cli_verb_unknown(const char *command, const char *names, const char *word);

/* "label, info, dump or list" into buf: the verbs of a table, for messages. */
const char *cli_verb_names(const cli_verb_t *verbs, char *buf, size_t size);

#endif
