/* data.h - feature schemas, label sets and in-memory data sets. */
#ifndef DML_DATA_H
#define DML_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "csvread.h"
#include "error.h"
#include "hash.h"
#include "record.h"

/* Interned strings, ids in order of first appearance. */
struct dml_strtab {
	uint32_t n, cap;
	char **s;
	uint32_t *slot;   /* open addressing: id + 1, 0 empty */
	uint32_t nslot;
};

void dml_strtab_free(struct dml_strtab *t);
/* Id of s, adding it if new; UINT32_MAX when out of memory. */
uint32_t dml_strtab_intern(struct dml_strtab *t, const char *s);
/* Id of s or UINT32_MAX. */
uint32_t dml_strtab_find(const struct dml_strtab *t, const char *s);

struct dml_schema {
	uint32_t nfeat;
	char **names;
	char *label;       /* label column name, "" if none */
	uint64_t fingerprint;
};

void dml_schema_free(struct dml_schema *s);
enum dml_err dml_schema_copy(struct dml_schema *dst,
			     const struct dml_schema *src);
void dml_schema_fingerprint(struct dml_schema *s);
void dml_schema_write(struct dml_buf *b, const struct dml_schema *s);
/* For each feature of want, its index among the features of have, by
 * name, into map[want->nfeat]; DML_ENOCOLUMN naming the first missing. */
enum dml_err dml_schema_map(const struct dml_schema *have,
			    const struct dml_schema *want, int64_t *map,
			    struct dml_error *err);
enum dml_err dml_schema_read(const struct dml_record *rec,
			     struct dml_schema *s, struct dml_error *err);

/* Class labels, sorted: numerically when all are numbers, else bytewise. */
struct dml_labels {
	uint32_t n;
	char **names;
	uint64_t *counts;
};

void dml_labels_free(struct dml_labels *l);
/* Sort names (with counts) in label order. */
void dml_labels_sort(struct dml_labels *l);
/* Index of name or -1 (binary search, sorted order). */
int64_t dml_labels_find(const struct dml_labels *l, const char *name);
void dml_labels_write(struct dml_buf *b, const struct dml_labels *l);
enum dml_err dml_labels_read(const struct dml_record *rec,
			     struct dml_labels *l, struct dml_error *err);
int dml_labels_equal(const struct dml_labels *a, const struct dml_labels *b);

/* How the columns of a CSV become features and a label. */
struct dml_data;

/* Rows handed on while streaming (see dml_load_opts): n rows of x, their
 * label ids y. */
typedef enum dml_err (*dml_rows_fn)(void *ctx, const struct dml_data *d,
				    double *x, const uint32_t *y, uint64_t n,
				    struct dml_error *err);

struct dml_load_opts {
	struct dml_csv_opts csv;
	const char *label;              /* name, or 1-based index; NULL none */
	int label_optional;             /* use the label column if present */
	int numeric_label;              /* the label is a number (regression) */
	const struct dml_schema *schema; /* map features by name to these */
	const struct dml_labels *classes; /* map labels to these indices */
	uint32_t threads;               /* parse a large file in parallel */
	/* Stream: hand rows to rows_fn in blocks of DML_STREAM_ROWS as they
	 * are read (the last, shorter block from dml_data_flush), keeping
	 * only one block in memory; d->n still counts all rows.  The rows
	 * are rows_fn's to change. */
	dml_rows_fn rows_fn;
	void *rows_ctx;
	int input_format;               /* enum dml_input_format (svmread.h) */
	uint32_t features;              /* svmlight: the number of features;
					 * 0: the largest index seen */
	/* The rows of the first input go to d->q, one byte each, when
	 * every value is a whole number 0..255: a large CSV file parsed in
	 * parallel all at once (parsed again into d->x if a value is not a
	 * byte), any other input as a stream (into d->x from the first
	 * block with another value).  Another input turns them to d->x. */
	int bytes;
};

#define DML_STREAM_ROWS 256

struct dml_colmap {
	size_t ncols;        /* fields every row must have */
	int64_t *feat;       /* column -> feature index, or -1 */
	int64_t label_col;   /* -1 if none */
	uint32_t nfeat;
};

void dml_colmap_free(struct dml_colmap *m);
/* Build from a header row (or, with no header, from the first row's field
 * count: pass names NULL).  If opts->schema is NULL, *schema is filled
 * with the features found (all columns but the label). */
enum dml_err dml_colmap_build(struct dml_colmap *m, char **names,
			      size_t ncols, const struct dml_load_opts *o,
			      struct dml_schema *schema, struct dml_error *err);
/* One row: features into x (nfeat), label text into *label (or NULL).
 * The fields are those of dml_csv_read (see dml_parse_field). */
enum dml_err dml_colmap_row(const struct dml_colmap *m, char **fields,
			    size_t n, double *x, const char **label,
			    struct dml_error *err);

/* A data set in memory: rows of features, a label id per row. */
struct dml_data {
	struct dml_schema schema;
	uint64_t n, cap;
	double *x;                /* n * schema.nfeat, row-major */
	uint8_t *q;               /* or these as bytes (dml_load_opts.bytes);
				   * x is then empty */
	uint32_t *y;              /* per row: id in labels, or class index */
	struct dml_strtab labels; /* label texts as seen (no classes given) */
	int has_label;
	struct dml_hash hash;     /* over every input byte */
	uint64_t files;
	uint64_t base;            /* rows handed on (streaming); x holds the rest */
	int columns_grow;         /* only svmlight read so far, no fixed
				   * count: a later one may add columns */
	/* internal while loading */
	struct dml_colmap map;
	const struct dml_load_opts *opts;
};

void dml_data_init(struct dml_data *d);
/* Room in x and y for one more row of stride values after the n - base
 * held (a loader's growth; streaming: a block to start with). */
enum dml_err dml_data_room(struct dml_data *d, uint32_t stride,
			   int streaming, struct dml_error *err);
/* Streaming: hand on the rows still held, after the last input. */
enum dml_err dml_data_flush(struct dml_data *d, const struct dml_load_opts *o,
			    struct dml_error *err);
void dml_data_free(struct dml_data *d);
/* Append the rows of one input, CSV or binary data records (told apart by
 * the record magic); later inputs must have the same features (matched by
 * name). */
enum dml_err dml_data_load(struct dml_data *d, int fd,
			   const struct dml_load_opts *o,
			   struct dml_error *err);

/* The same from a byte source (whose hash, if any, sees every byte). */
enum dml_err dml_data_load_src(struct dml_data *d, struct dml_src *src,
			       const struct dml_load_opts *o,
			       struct dml_error *err);

/* ---- binary data records: blocks of rows ready for BLAS ---- */
#define DML_BLOCK_ROWS 4096
enum dml_dtype { DML_F32 = 1, DML_F64 = 2 };

/* A block also stays under this many bytes of values (wide rows). */
#define DML_BLOCK_BYTES (UINT64_C(1) << 24)

struct dml_block {
	uint32_t nfeat, dtype;
	uint64_t cap;             /* rows this block takes before it is full */
	int has_label;
	uint64_t n;
	void *x;                  /* n * nfeat values of dtype */
	uint32_t *y;              /* label ids into labels */
	struct dml_strtab labels;
	uint64_t *counts;
};

enum dml_err dml_block_init(struct dml_block *b, uint32_t nfeat,
			    uint32_t dtype, int has_label);
void dml_block_free(struct dml_block *b);
/* Add a row (label NULL when there is none); the block holds at most
 * cap rows: DML_BLOCK_ROWS, fewer when rows are wide. */
enum dml_err dml_block_add(struct dml_block *b, const double *x,
			   const char *label);
/* Encode the rows as one data record and empty the block. */
enum dml_err dml_block_encode(struct dml_block *b,
			      const struct dml_schema *s, struct dml_buf *out);
/* Row i of a decoded block, its values map[0..n) in that order, as
 * doubles into out; DML_ENUMBER if one is not finite. */
enum dml_err dml_block_row(const struct dml_block *b, uint64_t i,
			   const int64_t *map, uint32_t n, double *out,
			   struct dml_error *err);
/* A data record's rows where they lie in it, not copied: b gets n,
 * nfeat, dtype and has_label (nothing to free), *px the values, *py the
 * label ids (u32 little-endian, when has_label). */
enum dml_err dml_block_view(const struct dml_record *rec,
			    struct dml_block *b, const unsigned char **px,
			    const unsigned char **py, struct dml_error *err);
/* Row i of such a view, as dml_block_row gives it; map NULL: the
 * first n values in their stored order. */
enum dml_err dml_block_wire_row(const struct dml_block *b,
				const unsigned char *px, uint64_t i,
				const int64_t *map, uint32_t n, double *out,
				struct dml_error *err);
/* Decode a data record's rows section (used by dml-inspect as well). */
enum dml_err dml_block_decode(const struct dml_record *rec,
			      struct dml_block *b, struct dml_error *err);
/* The memory of rows (dml_data's x): realloc and free for it, aligned as
 * malloc's; large arrays get huge pages where the system has them. */
void *dml_rows_realloc(void *p, size_t len);
void dml_rows_free(void *p);
/* Give [p, p + len) its pages now, in one call where the system can:
 * memory about to be written whole, without a fault per page. */
void dml_prefault(void *p, size_t len);
/* Rows kept as they stream in (a dml_rows_fn's store): one byte a value
 * while every value is a whole number 0..255 (pixels, counts, flags: an
 * eighth of the memory of doubles, and the same values), as doubles from
 * the first block that has another; with their label ids.  The arrays
 * are dml_rows_realloc's (q, x) and malloc's (y). */
struct dml_rowstore {
	uint32_t nf;
	uint64_t n, cap;
	uint8_t *q;     /* n * nf bytes while every value fits, else NULL */
	double *x;      /* n * nf doubles once one does not */
	uint32_t *y;    /* n label ids */
};

/* Append n rows of nf values (nf fixed by the first call) and labels. */
enum dml_err dml_rowstore_add(struct dml_rowstore *s, const double *x,
			      const uint32_t *y, uint64_t n, uint32_t nf,
			      struct dml_error *err);
void dml_rowstore_free(struct dml_rowstore *s);
/* x[i] = q[i] for n values. */
void dml_rows_from_bytes(const uint8_t *q, size_t n, double *x);
/* Identity of the data as a leaf: a hash of every byte read. */
uint64_t dml_data_leaf(const struct dml_data *d);

#endif
