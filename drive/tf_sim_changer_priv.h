/*  tf_sim_changer_priv - state of the simulated changer, shared by its source files. */
#ifndef TF_SIM_CHANGER_PRIV_H_INCLUDED
#define TF_SIM_CHANGER_PRIV_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_changer.h"
#include "tf_sim_changer.h"

#define TF_SIMCHG_MAX_SLOTS 1000
#define TF_SIMCHG_MAX_DRIVES 16
#define TF_SIMCHG_MAX_IE 16
#define TF_SIMCHG_MAX_ELEMS (1 + TF_SIMCHG_MAX_IE + TF_SIMCHG_MAX_DRIVES + TF_SIMCHG_MAX_SLOTS)

enum { TF_SIMCHG_ADDR_TRANSPORT = 1, TF_SIMCHG_ADDR_IE = 10, TF_SIMCHG_ADDR_DRIVE = 100,
       TF_SIMCHG_ADDR_SLOT = 1000 };

typedef struct {
    int slots, drives, ie, tapes;       /* -1: not given in the URL */
    char prefix[16];
    bool door_open, stuck, no_barcodes, no_eaa, descriptor;
    uint8_t ua;                         /* ASC of a unit attention on the first command */
} tf_simchg_opts_t;

/* The library's elements, in state-file order: transport, ie, drives, slots. */
typedef struct {
    size_t count;
    tf_changer_elem_t elem[TF_SIMCHG_MAX_ELEMS];
} tf_simchg_state_t;

struct _tf_simchg_t {
    char *path;         /* state file */
    char *dir;          /* the library folder */
    char *lock_path;    /* PATH.lock, flocked around every command */
    tf_simchg_opts_t opts;
    tf_simchg_state_t *state;
    uint8_t pending_ua;
    uint8_t last_sense[252];
    size_t last_sense_len;
};

/* Options from the query part (tf_sim_changer_opts in tf_sim_changer_state.c). */
int tf_simchg_opts_parse(const char *query, tf_simchg_opts_t *opts, tf_err_t *err);

/* Takes / releases the library lock (blocking). */
int tf_simchg_lock(tf_simchg_t *self, int *fd, tf_err_t *err);
void tf_simchg_unlock(int *fd);
/* Reads the state file into self->state; creates the library when it does not exist. */
int tf_simchg_load(tf_simchg_t *self, tf_err_t *err);
/* Writes self->state (temporary file + rename). */
int tf_simchg_save(tf_simchg_t *self, tf_err_t *err);
/* DIR/<barcode>.img and DIR/driveN.img. */
void tf_simchg_cart_path(tf_simchg_t *self, const char *barcode, char *buf, size_t size);
void tf_simchg_drive_path(tf_simchg_t *self, int drive, char *buf, size_t size);
/* Drive number (0..) of a drive element. */
int tf_simchg_drive_number(tf_simchg_t *self, const tf_changer_elem_t *elem);

#endif
