/* csvread.h - streaming CSV through libcsv, with line numbers. */
#ifndef DML_CSVREAD_H
#define DML_CSVREAD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "record.h"

struct dml_csv_opts {
	unsigned char delim; /* ',' when 0 */
	int no_header;       /* first row is data */
	int libcsv_only;     /* every line through libcsv (tests compare) */
};

/* Called once per row with its fields (NUL-terminated) and the text line
 * on which the row ends.  A non-OK return stops reading; fill err. */
typedef enum dml_err (*dml_csv_fn)(void *ctx, char **fields, size_t n,
				   uint64_t line, struct dml_error *err);

/* Read all of src.  header_fn gets the header row (unless no_header),
 * row_fn every data row.  Reads with read(2), so rows arriving on a pipe are
 * handed on as soon as their line is complete.  A UTF-8 byte-order mark is
 * skipped.  DML_EEMPTY if the input holds no row at all. */
enum dml_err dml_csv_read(struct dml_src *src,
			  const struct dml_csv_opts *opts,
			  dml_csv_fn header_fn, dml_csv_fn row_fn, void *ctx,
			  struct dml_error *err);

/* Parse a buffer of whole lines, every row data (no header), numbering
 * lines from first_line.  For splitting a file between threads. */
enum dml_err dml_csv_parse_lines(const char *p, size_t len,
				 const struct dml_csv_opts *opts,
				 uint64_t first_line, dml_csv_fn row_fn,
				 void *ctx, struct dml_error *err);

#endif
