/*  cmd_changer - what `tapeflow changer load|unload` parse into, for the labeller's route
    (cli_labeller.c): while a labeller runs it makes every changer move, so the command asks it;
    cmd_changer() itself moves the robot directly (the stack down, for repair). */
#ifndef CMD_CHANGER_H_INCLUDED
#define CMD_CHANGER_H_INCLUDED

#include <stdbool.h>

#include "cli.h"

typedef struct {
    const char *verb;        /* load | unload */
    const char *changer;     /* as given */
    int slot;                /* -1: not given */
    int drive;               /* drive element; -1: not given (0) */
    const char *barcode;     /* load */
    const char *force;       /* the leased drive (its name) the operator takes over */
    bool json;
    bool no_eject;
} cmd_changer_move_t;

/* Parses `changer load|unload ...` (argv[0] the verb) into *move. Returns -1 to go on, else the
   exit status (--help: 0; a usage error: 2). */
int cmd_changer_parse_move(int argc, char **argv, bool json, cmd_changer_move_t *move);

/* Ejects the tape from the drive configured in drive element `element` of the configured
   changer `changer` (changers/NAME/driveN), so the robot may take it; a failure is a warning
   on stderr. Nothing when no such drive is configured. */
void cmd_changer_eject(tf_config_t *cfg, const char *changer, int element);

#endif
