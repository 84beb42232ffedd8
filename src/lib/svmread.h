/* svmread.h - svmlight / libsvm sparse text, "LABEL IDX:VAL IDX:VAL ...",
 * read streaming, one line at a time, through a reused buffer. */
#ifndef DML_SVMREAD_H
#define DML_SVMREAD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "record.h"

/* The most features an svmlight input may have (its largest index). */
#ifndef DML_SVM_MAX_FEATURES
#define DML_SVM_MAX_FEATURES (UINT32_C(1) << 20)
#endif

/* How far a reader looks ahead to tell svmlight from CSV. */
#define DML_SNIFF_BYTES 65536

enum dml_input_format {
	DML_INPUT_AUTO = 0,  /* binary by magic, svmlight by its look, CSV */
	DML_INPUT_CSV,
	DML_INPUT_SVMLIGHT,
};

/* One row: its label and its pairs, indices 1-based and increasing. */
struct dml_svm_row {
	const char *label;
	uint64_t label_col;    /* byte column of the label */
	size_t n;
	const uint32_t *idx;
	const double *val;
	const uint64_t *col;   /* byte column of each pair */
	const char *text;      /* the line as read, without its line end */
	size_t len;
};

/* Called once per row; a non-OK return stops reading (fill err; set
 * err->column to point at a token). */
typedef enum dml_err (*dml_svm_fn)(void *ctx, const struct dml_svm_row *r,
				   uint64_t line, struct dml_error *err);

/* Read all of src.  An index above limit is an error that names it with
 * why ("--features 10", "the model's 784 features").  Blank lines and
 * comments (from '#' to the end of the line) are skipped, "qid:N" is
 * accepted and ignored; values go through dml_parse_double.  Errors name
 * the line and the byte column of the bad token.  DML_EEMPTY if there is
 * no row. */
enum dml_err dml_svm_read(struct dml_src *src, uint32_t limit,
			  const char *why, dml_svm_fn fn, void *ctx,
			  struct dml_error *err);

/* Does text look like svmlight?  Its first line that is neither blank
 * nor a comment has no delim byte, a first token without ':', and then
 * only INDEX:VALUE or qid:N tokens, at least one.  final: 0 more bytes
 * may come, 1 the input ends here, 2 no more will be looked at (a line
 * cut here is judged by its whole tokens).  1 yes, 0 no, -1 not known
 * yet (that line is not complete and more may come). */
int dml_svm_sniff(const char *p, size_t n, unsigned char delim, int final);

/* Is the text input src svmlight?  format says, unless it is
 * DML_INPUT_AUTO: then a regular file is peeked at with pread(2), and
 * any other input is read ahead into *buf (malloc'd here, DML_SNIFF_BYTES;
 * free it after the input is read) and handed back through src->back.
 * 1 svmlight, 0 CSV, -1 read error (errno) or out of memory. */
int dml_svm_detect(struct dml_src *src, int format, unsigned char delim,
		   unsigned char **buf);

struct dml_schema;
struct dml_data;
struct dml_load_opts;

/* Features named by index: for each index 1..*nmap, the feature of
 * schema s named by that index in decimal, or -1; *map NULL when the
 * schema is exactly "1".."N".  DML_ENOCOLUMN if a feature's name is not
 * an index (whose is says whose features: "the model's"). */
enum dml_err dml_svm_map(const struct dml_schema *s, const char *whose,
			 int64_t **map, uint32_t *nmap,
			 struct dml_error *err);

/* Append the rows of an svmlight input to d (as dml_data_load). */
enum dml_err dml_svm_load(struct dml_data *d, struct dml_src *src,
			  const struct dml_load_opts *o,
			  struct dml_error *err);

#endif
