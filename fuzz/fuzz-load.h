/* fuzz-load.h - the body of the data-loading fuzz targets, fuzz-csv.c
 * (text), fuzz-csv-threads.c (text, one thread against three) and
 * fuzz-data.c (binary data records): they feed bytes to dml_data_load
 * through a memfd, as a file would give them.
 *
 * The first two bytes choose the options; the rest is the input:
 *
 *   byte 0  bits 0-1  delimiter: ',' ';' tab '|'
 *           bit 2     --no-header
 *           bits 3-5  label column: none, "label", "1", "2", "y", "0",
 *                     "f1", none
 *           bit 6     the label column is optional (as for dml-predict)
 *           bit 7     map to a model's schema (features a, b, c; label
 *                     column "label") and classes ("x", "y", "1")
 *   byte 1  bit 0     split the input in two files at byte
 *                     (byte 1 >> 4) / 16 of it (a second input must have
 *                     the same features)
 *
 * fuzz-csv-threads.c uses the same options for a differential test: the
 * input is padded past 4 MiB with copies of its data lines, so that it is
 * read in parallel, and read with one and with three threads; both must
 * give the same rows, or the same error at the same place.
 *
 * Binary input is run once as it is and once with its checksums made
 * right (fix-crc.h).
 *
 * fuzz-csv.c also reads each input through libcsv alone (without the
 * plain-line splitter) into bytes where the values allow (as a fit
 * loads: dml_load_opts.bytes), and as a stream of row blocks (as
 * dml-train -j 1 --emit stats does), kept as a -j 1 fit keeps them:
 * both must give the same rows, bit for bit, or the same error.
 *
 * What loads is then used as dml-train and dml-partition use it: its
 * statistics are taken, encoded and decoded; its rows are written as
 * binary data blocks and read back, which must give the same rows. */
#ifndef FUZZ_LOAD_H
#define FUZZ_LOAD_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data.h"
#include "fix-crc.h"
#include "model.h"
#include "record.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz: %s:%d: check failed: %s\n", \
		__FILE__, __LINE__, #cond); abort(); } } while (0)

#define PARALLEL_SIZE ((size_t)1 << 22) /* data.c's PARALLEL_MIN */

static int memfd_with(const void *p, size_t n)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct setup {
	struct dml_load_opts o;
	struct dml_schema schema;
	struct dml_labels classes;
};

static char *names_abc[] = { "a", "b", "c" };
static char *classes_xy1[] = { "x", "y", "1" };
static uint64_t counts_zero[3];

static void setup_opts(struct setup *s, uint8_t b0)
{
	static const unsigned char delims[] = { ',', ';', '\t', '|' };
	static const char *labels[] = {
		NULL, "label", "1", "2", "y", "0", "f1", NULL,
	};
	memset(s, 0, sizeof *s);
	s->o.csv.delim = delims[b0 & 3];
	s->o.csv.no_header = (b0 >> 2) & 1;
	s->o.label = labels[(b0 >> 3) & 7];
	s->o.label_optional = (b0 >> 6) & 1;
	if (b0 & 0x80) {
		s->schema.nfeat = 3;
		s->schema.names = names_abc;
		s->schema.label = "label";
		dml_schema_fingerprint(&s->schema);
		s->classes.n = 3;
		s->classes.names = classes_xy1;
		s->classes.counts = counts_zero;
		s->o.schema = &s->schema;
		s->o.classes = &s->classes;
		if (!s->o.label)
			s->o.label = "label";
	}
}

/* Load the inputs; returns the code, d filled (free it either way). */
static enum dml_err load(struct dml_data *d, const struct dml_load_opts *o,
			 const uint8_t *p, size_t n, size_t split,
			 struct dml_error *err)
{
	size_t cut[3] = { 0, split, n };
	int parts = split > 0 && split < n ? 2 : 1;
	if (parts == 1)
		cut[1] = n;
	dml_data_init(d);
	for (int i = 0; i < parts; i++) {
		int fd = memfd_with(p + cut[i], cut[i + 1] - cut[i]);
		if (fd < 0)
			return DML_EIO;
		enum dml_err rc = dml_data_load(d, fd, o, err);
		close(fd);
		if (rc)
			return rc;
	}
	return DML_OK;
}

/* The statistics of what loaded encode and decode. */
static void check_stats(const struct dml_data *d,
			const struct dml_load_opts *o)
{
	struct dml_stats s;
	struct dml_error err = {0};
	/* as dml-train --emit stats: labels as seen, no model's classes */
	if (!d->has_label || o->classes || dml_stats_from_data(&s, d, &err))
		return;
	struct dml_buf b;
	CHECK(dml_stats_encode(&s, &b) == DML_OK);
	struct dml_record rec;
	size_t used;
	dml_record_init(&rec);
	CHECK(dml_record_parse(b.p, b.len, &used, &rec, &err) == DML_OK);
	struct dml_stats s2;
	enum dml_err rc = dml_stats_decode(&rec, &s2, &err);
	if (rc)
		fprintf(stderr, "fuzz: stats of loaded data do not decode: "
			"%s\n", err.detail);
	CHECK(rc == DML_OK);
	CHECK(s2.samples == d->n);
	dml_stats_free(&s2);
	dml_record_free(&rec);
	dml_buf_free(&b);
	dml_stats_free(&s);
}

/* Rows written as binary blocks (dml-partition --format bin) read back
 * the same. */
static void check_blocks(const struct dml_data *d,
			 const struct dml_load_opts *o)
{
	uint32_t nf = d->schema.nfeat;
	if (o->classes || d->n == 0 || nf > 64) /* blocks of 4096 rows */
		return;
	struct dml_block blk;
	if (dml_block_init(&blk, nf, DML_F64, d->has_label))
		return;
	struct dml_buf all = {0};
	for (uint64_t r = 0; r < d->n; r++) {
		const char *label = d->has_label ? d->labels.s[d->y[r]] : NULL;
		CHECK(dml_block_add(&blk, d->x + r * nf, label) == DML_OK);
		if (blk.n == DML_BLOCK_ROWS || r + 1 == d->n) {
			struct dml_buf b;
			CHECK(dml_block_encode(&blk, &d->schema, &b) ==
			      DML_OK);
			unsigned char *p = dml_buf_reserve(&all, b.len);
			CHECK(p);
			memcpy(p, b.p, b.len);
			dml_buf_free(&b);
		}
	}
	dml_block_free(&blk);
	int fd = memfd_with(all.p, all.len);
	dml_buf_free(&all);
	if (fd < 0)
		return;
	struct dml_load_opts bo = {0};
	bo.label = d->has_label ? d->schema.label : NULL;
	struct dml_data d2;
	struct dml_error err = {0};
	dml_data_init(&d2);
	enum dml_err rc = dml_data_load(&d2, fd, &bo, &err);
	close(fd);
	if (rc)
		fprintf(stderr, "fuzz: blocks do not load back: %s\n",
			err.detail);
	CHECK(rc == DML_OK);
	CHECK(d2.n == d->n);
	CHECK(d2.schema.nfeat == nf);
	CHECK(d2.schema.fingerprint == d->schema.fingerprint);
	CHECK(memcmp(d2.x, d->x, (size_t)d->n * nf * sizeof *d->x) == 0);
	CHECK(d2.has_label == d->has_label);
	for (uint64_t r = 0; d->has_label && r < d->n; r++)
		CHECK(!strcmp(d2.labels.s[d2.y[r]], d->labels.s[d->y[r]]));
	dml_data_free(&d2);
}

/* Rows as a stream hands them on (dml_load_opts.rows_fn), kept as
 * dml-train -j 1 keeps them for a fit: as bytes while they can be. */
struct kept {
	struct dml_rowstore s;
	int bad;
};

static enum dml_err keep_rows(void *ctx, const struct dml_data *d,
			      double *x, const uint32_t *y, uint64_t n,
			      struct dml_error *err)
{
	struct kept *k = ctx;
	/* whole blocks, except the last */
	if (n > DML_STREAM_ROWS || (k->s.n % DML_STREAM_ROWS))
		k->bad = 1;
	return dml_rowstore_add(&k->s, x, y, n, d->schema.nfeat, err);
}

/* 1 if the kept rows are x[0..n) bit for bit. */
static int kept_same(const struct kept *k, const double *x, size_t n)
{
	if (!k->s.q)
		return memcmp(k->s.x, x, n * sizeof *x) == 0;
	for (size_t i = 0; i < n; i++) {
		double v = k->s.q[i];
		if (memcmp(&v, &x[i], sizeof v))
			return 0;
	}
	return 1;
}

/* Text padded past the parallel threshold: one thread and three agree. */
static void check_parallel(const struct dml_load_opts *o, const uint8_t *p,
			   size_t n)
{
	if (n == 0 || memchr(p, '"', n))
		return;
	const uint8_t *nl = memchr(p, '\n', n);
	if (!nl)
		return;
	size_t head = (size_t)(nl + 1 - p), body = n - head;
	/* short bodies would make millions of rows: too slow to fuzz */
	if (body < 64 || p[n - 1] != '\n')
		return;
	size_t size = head;
	while (size < PARALLEL_SIZE + 1024)
		size += body;
	uint8_t *big = malloc(size);
	if (!big)
		return;
	memcpy(big, p, head);
	for (size_t at = head; at < size; at += body)
		memcpy(big + at, p + head, body);
	struct dml_load_opts o1 = *o, o3 = *o;
	o1.threads = 1;
	o3.threads = 3;
	/* half the inputs: into bytes where the values allow (a fit's
	 * load), else doubles after all */
	o3.bytes = n & 1;
	struct dml_data d1, d3;
	struct dml_error e1 = {0}, e3 = {0};
	enum dml_err r1 = load(&d1, &o1, big, size, 0, &e1);
	enum dml_err r3 = load(&d3, &o3, big, size, 0, &e3);
	if (r1 != r3 || strcmp(e1.detail, e3.detail) || e1.line != e3.line ||
	    e1.column != e3.column)
		fprintf(stderr, "fuzz: one thread: %d line %llu column %llu "
			"'%s'; three threads: %d line %llu column %llu '%s'\n",
			r1, (unsigned long long)e1.line,
			(unsigned long long)e1.column, e1.detail, r3,
			(unsigned long long)e3.line,
			(unsigned long long)e3.column, e3.detail);
	CHECK(r1 == r3);
	CHECK(!strcmp(e1.detail, e3.detail));
	CHECK(e1.line == e3.line && e1.column == e3.column);
	if (r1 == DML_OK)
		CHECK(d1.n == d3.n);
	if (r1 == DML_OK && d1.n > 0) {
		size_t nx = (size_t)d1.n * d1.schema.nfeat;
		struct kept k = { .s = { .q = d3.q, .x = d3.x } };
		CHECK(o3.bytes || !d3.q);
		CHECK(kept_same(&k, d1.x, nx));
		CHECK(memcmp(d1.y, d3.y, (size_t)d1.n * sizeof *d1.y) == 0);
		CHECK(d1.labels.n == d3.labels.n);
	}
	if (r1 == DML_OK) {
		CHECK(d1.schema.fingerprint == d3.schema.fingerprint);
		CHECK(dml_data_leaf(&d1) == dml_data_leaf(&d3));
	}
	dml_data_free(&d1);
	dml_data_free(&d3);
	free(big);
}

/* The same text through libcsv alone (no plain-line splitting) into
 * bytes where it can be, and as a stream of blocks: the same rows,
 * labels and leaf, or the same error. */
static void check_variants(const struct dml_data *d, enum dml_err rc,
			   const struct dml_error *e,
			   const struct dml_load_opts *o, const uint8_t *p,
			   size_t n, size_t split)
{
	struct dml_load_opts ol = *o, os = *o;
	ol.csv.libcsv_only = 1;
	/* and into bytes where the values allow, as a fit loads (with a
	 * second input, they turn to doubles) */
	ol.bytes = 1;
	struct kept k = {0};
	os.rows_fn = keep_rows;
	os.rows_ctx = &k;
	for (int v = 0; v < 2; v++) {
		struct dml_data d2;
		struct dml_error e2 = {0};
		enum dml_err r2 = load(&d2, v ? &os : &ol, p, n, split, &e2);
		if (r2 == DML_OK && v)
			r2 = dml_data_flush(&d2, &os, &e2);
		if (r2 != rc || strcmp(e2.detail, e->detail) ||
		    e2.line != e->line || e2.column != e->column)
			fprintf(stderr, "fuzz: %s: %d line %llu column %llu "
				"'%s'; as read: %d line %llu column %llu "
				"'%s'\n", v ? "streamed" : "libcsv alone", r2,
				(unsigned long long)e2.line,
				(unsigned long long)e2.column, e2.detail, rc,
				(unsigned long long)e->line,
				(unsigned long long)e->column, e->detail);
		CHECK(r2 == rc);
		CHECK(!strcmp(e2.detail, e->detail));
		CHECK(e2.line == e->line && e2.column == e->column);
		if (rc == DML_OK) {
			size_t nx = (size_t)d->n * d->schema.nfeat;
			const uint32_t *y2 = v ? k.s.y : d2.y;
			CHECK(d2.n == d->n);
			struct kept k2 = { .s = { .q = d2.q, .x = d2.x } };
			CHECK(!v || (k.s.n == d->n && !k.bad));
			CHECK(d->n == 0 || kept_same(v ? &k : &k2, d->x, nx));
			CHECK(d->n == 0 || memcmp(y2, d->y, (size_t)d->n *
						  sizeof *d->y) == 0);
			CHECK(d2.labels.n == d->labels.n);
			CHECK(d2.schema.fingerprint == d->schema.fingerprint);
			CHECK(dml_data_leaf(&d2) == dml_data_leaf(d));
		}
		dml_data_free(&d2);
	}
	dml_rowstore_free(&k.s);
}

enum { LOAD_DATA, LOAD_CSV, LOAD_CSV_THREADS };

static int run_load(const uint8_t *data, size_t size, int mode)
{
	if (size < 2)
		return 0;
	struct setup s;
	setup_opts(&s, data[0]);
	if (mode == LOAD_CSV_THREADS) {
		check_parallel(&s.o, data + 2, size - 2);
		return 0;
	}
	uint8_t b1 = data[1];
	const uint8_t *p = data + 2;
	size_t n = size - 2;
	size_t split = (b1 & 1) ? n * (b1 >> 4) / 16 : 0;
	struct dml_data d;
	struct dml_error err = {0};
	enum dml_err rc = load(&d, &s.o, p, n, split, &err);
	if (mode == LOAD_CSV)
		check_variants(&d, rc, &err, &s.o, p, n, split);
	char msg[1100];
	dml_error_format(&err, "input", msg, sizeof msg);
	if (rc == DML_OK) {
		CHECK(d.schema.label != NULL);
		if (s.o.schema)
			CHECK(d.schema.nfeat == s.schema.nfeat);
		for (uint64_t r = 0; r < d.n; r++) {
			if (d.has_label && !s.o.classes)
				CHECK(d.y[r] < d.labels.n);
			if (d.has_label && s.o.classes)
				CHECK(d.y[r] < s.classes.n);
		}
		check_stats(&d, &s.o);
		check_blocks(&d, &s.o);
	}
	dml_data_free(&d);
	return 0;
}

static int fuzz_load(const uint8_t *data, size_t size, int mode)
{
	run_load(data, size, mode);
	if (mode != LOAD_DATA)
		return 0;
	if (size < 2 || memcmp(data + 2, DML_MAGIC, size - 2 < DML_MAGIC_LEN
					       ? size - 2 : DML_MAGIC_LEN))
		return 0;
	unsigned char *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fix_crcs(copy + 2, size - 2);
	if (memcmp(copy, data, size))
		run_load(copy, size, mode);
	free(copy);
	return 0;
}

#endif
