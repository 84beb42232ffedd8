/* cli.h - what every dml command shares: messages, option parsing,
 * inputs, whole-or-nothing outputs. */
#ifndef DML_CLI_H
#define DML_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "data.h"
#include "error.h"
#include "model.h"
#include "record.h"

/* Program name for messages; set by cli_init(). */
extern const char *cli_prog;

/* Set the program name, check stdout at exit. */
void cli_init(const char *prog);
/* Before the first BLIS call: the kernels that suit this model family. */
void cli_blis_family(uint32_t family);
void cli_version(void) __attribute__((noreturn));
/* "Try 'prog --help' for more information." and exit 2. */
void cli_try_help(void) __attribute__((noreturn));
/* "prog: message" + try-help, exit 2. */
void cli_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* "prog: message", exit 1. */
void cli_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: input:line: detail" from a library error, exit 1. */
void cli_die_err(const struct dml_error *err, const char *input)
	__attribute__((noreturn));

/* Numeric option values: the option's name is in the message. */
uint64_t cli_uint(const char *name, const char *value, uint64_t min,
		  uint64_t max);
double cli_double(const char *name, const char *value, double min,
		  double max);
unsigned char cli_delimiter(const char *value);

/* --input-format and --features: what cli_load_csv (and dml-predict and
 * dml-partition) apply to the inputs they read. */
extern int cli_input_format;   /* enum dml_input_format */
extern uint32_t cli_features;  /* svmlight: features, 0 the largest index */
void cli_set_input_format(const char *value);
void cli_set_features(const char *value);
/* Is the first of files svmlight: named so by --input-format, or (auto)
 * a regular file that looks like it?  Standard input is not peeked at. */
int cli_svm_input(char **files, int nfiles, unsigned char delim);
/* Online CPUs, at least 1. */
uint32_t cli_cpus(void);

/* Open an input; "-" is standard input.  Dies with the name on failure. */
FILE *cli_open(const char *path);
void cli_close(FILE *f, const char *path);
/* Display name: "-" becomes "(standard input)". */
const char *cli_name(const char *path);

/* Output that appears whole or not at all: a regular file is written to
 * a temporary file beside it (unnamed where the system allows, so that a
 * killed process leaves nothing) and renamed on commit; "-" or NULL is
 * standard output; devices and FIFOs are written in place. */
struct cli_out {
	char *path, *tmp;
	FILE *f;
	int to_stdout;
	int anon;             /* tmp is not a name yet (O_TMPFILE) */
	struct cli_out *next; /* internal: temporaries not yet committed */
};

void cli_out_open(struct cli_out *o, const char *path);
void cli_out_write(struct cli_out *o, const void *p, size_t n);
void cli_out_commit(struct cli_out *o);
/* Remove a temporary file; safe to call at any time. */
void cli_out_abort(struct cli_out *o);

/* Read exactly one record of the expected kind (0: any) from path. */
void cli_read_one(const char *path, uint32_t kind, struct dml_record *rec);
/* Load a model: decoded, and the hash of its record (gradient basis). */
void cli_load_model(const char *path, struct dml_model *m, uint64_t *hash);
/* Load CSV files (none: standard input) into d. */
void cli_load_csv(char **files, int nfiles, const struct dml_load_opts *o,
		  struct dml_data *d);
/* Finish a record in b with the header and write it to out. */
void cli_emit(struct cli_out *out, struct dml_buf *b, enum dml_err rc);

#endif
