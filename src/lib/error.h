/* error.h - error codes and details returned by the dml library.
 *
 * The library never prints and never exits: every function that can fail
 * returns an enum dml_err and, where there is more to say, fills a
 * struct dml_error with the place (line, column, record) and a short detail.
 * Tools turn them into "prog: input:line: message". */
#ifndef DML_ERROR_H
#define DML_ERROR_H

#include <stddef.h>
#include <stdint.h>

enum dml_err {
	DML_OK = 0,
	DML_ENOMEM,        /* out of memory */
	DML_EIO,           /* read or write error (errno in detail) */
	DML_EEMPTY,        /* input holds nothing */
	DML_ETRUNC,        /* stream ends inside a record */
	DML_EMAGIC,        /* not a dml record (bad magic) */
	DML_EVERSION,      /* record of a newer, unsupported format version */
	DML_EHEADER,       /* header checksum mismatch */
	DML_ECHECKSUM,     /* payload checksum mismatch */
	DML_ETOOBIG,       /* a size exceeds the record length or a limit */
	DML_EFORMAT,       /* malformed record contents */
	DML_EUNSUPPORTED,  /* unknown required section, kind or family */
	DML_ECSV,          /* malformed CSV */
	DML_EFIELDS,       /* wrong field count */
	DML_ENUMBER,       /* a field is not a finite number */
	DML_ENOLABEL,      /* label column not found */
	DML_ENOCOLUMN,     /* a feature column the model needs is missing */
	DML_ESCHEMA,       /* schemas differ */
	DML_EKIND,         /* records of another kind than expected */
	DML_EMISMATCH,     /* records that cannot be combined */
	DML_EDUPLICATE,    /* the same leaf contributes twice */
	DML_ERANGE,        /* a value out of the representable range */
	DML_ELABELS,       /* unusable label set */
	DML_EPARAM,        /* invalid parameter */
};

struct dml_error {
	enum dml_err code;
	uint64_t line;     /* 1-based text line, 0 when not about text */
	uint64_t column;   /* 1-based field, 0 when unknown */
	uint64_t record;   /* 1-based record in a stream, 0 when unknown */
	char detail[512];  /* what exactly, e.g. "expected 785 fields, found 784" */
};

/* Short text for a code ("checksum mismatch"). */
const char *dml_strerror(enum dml_err code);

/* Set code and printf-style detail; returns code.  err may be NULL. */
enum dml_err dml_fail(struct dml_error *err, enum dml_err code,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void dml_error_clear(struct dml_error *err);

/* "input:line:col: detail" / "input: record N: detail" into buf. */
void dml_error_format(const struct dml_error *err, const char *input,
		      char *buf, size_t size);

#endif
