/*  cli_labeller - the CLI's side of the labeller (docs/operations.md, "The labeller"):

        tapeflow changer inventory CHANGER [--json] [--timeout SECONDS]
            the labeller reads the changer's element status (barcodes; no tape is loaded) into
            its inventory and shows every cartridge with what it knows of its label;
        tapeflow tape label --barcodes CHANGER --pool POOL [--json] [--timeout SECONDS]
            every cartridge of the library not known to be labelled is labelled with its
            barcode as label name: one `tape` work item per cartridge (tape_label), taken by a
            tape writer whose drive is in the library; it asks the labeller to load the
            cartridge, reads the tape and writes the label only when the tape is blank;
        the locations `tapeflow tape list` shows (cli_labeller_locations).

    Nothing here opens a drive or a changer: the labeller moves the robot, the tape writers
    read and write the tapes, so neither races with a backup that is running.
*/
#ifndef CLI_LABELLER_H_INCLUDED
#define CLI_LABELLER_H_INCLUDED

#include "cli.h"
#include "tf_msg.h"

/* `changer inventory ...` (argv[0] is "inventory"). */
int cmd_changer_inventory(cli_t *cli, int argc, char **argv);
/* `changer ...`: inventory here (it talks to the labeller), the rest in cmd_changer.c (it talks
   to the changer itself and is linked into the changer tests alone). */
int cmd_changer_labelled(cli_t *cli, int argc, char **argv);
/* The changer command's verbs, inventory included (for help and `tapeflow help --list`). */
extern const char *const cli_changer_verb_names[];
/* `tape label --barcodes ...` (argv[0] is "label"). */
int cmd_tape_label_barcodes(cli_t *cli, int argc, char **argv);

/* The labeller's inventory (lab_query op list, every changer) into *reply (a lab_reply the
   caller clears). Fails when the labeller does not answer within timeout_ms. */
int cli_labeller_list(tf_config_t *cfg, int timeout_ms, tf_msg_t *reply, tf_err_t *err);
/* The cartridge of reply (cli_labeller_list) holding volume label, or NULL. */
const tf_msg_cartridge_row_t *cli_labeller_find(const tf_msg_t *reply, const char *label);

#endif
