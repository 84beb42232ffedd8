/* fuzz-record.c - libFuzzer target for the record reader and every decoder.
 *
 * The input is a stream of records, as a file or a pipe would give it,
 * run once as it is and once with its checksums made right (fix-crc.h).
 * Each record is parsed from memory (dml_record_parse) and walked the way
 * dml-inspect walks it: sections, schema, labels, leaves, and the decoder
 * of its kind.  What decodes is then used: a model predicts, takes
 * optimizer steps (dml_model_apply with a gradient made to match it), is
 * encoded and decoded again; records are reduced; the same bytes are read
 * once more through the stream reader (dml_record_read).
 *
 * Invariants checked (a failure aborts, which libFuzzer reports):
 *   - what the library encodes, it decodes;
 *   - encoding a decoded model, stats, gradient or ensemble twice gives the
 *     same bytes;
 *   - the stream reader and the buffer parser agree on every record.
 *
 * See fuzz/README. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "fix-crc.h"
#include "model.h"
#include "record.h"

#define MAX_RECORDS 8

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz-record: %s:%d: check failed: %s\n", \
		__FILE__, __LINE__, #cond); abort(); } } while (0)

/* Parse the bytes an encoder wrote: they must be one whole record. */
static void reparse(const struct dml_buf *b, struct dml_record *rec)
{
	size_t used;
	struct dml_error err = {0};
	dml_record_init(rec);
	enum dml_err rc = dml_record_parse(b->p, b->len, &used, rec, &err);
	if (rc)
		fprintf(stderr, "fuzz-record: re-encoded record does not "
			"parse: %s\n", err.detail);
	CHECK(rc == DML_OK);
	CHECK(used == b->len);
}

static void same_bytes(const struct dml_buf *a, const struct dml_buf *b)
{
	CHECK(a->len == b->len);
	CHECK(memcmp(a->p, b->p, a->len) == 0);
}

/* ---- models ---- */

static void use_model(struct dml_model *m, const struct dml_record *rec)
{
	struct dml_error err = {0};
	uint32_t nf = m->schema.nfeat, nc = m->labels.n;
	/* predict two rows, as dml-predict does */
	if (nf <= 4096 && nc <= 4096 && dml_model_fold(m) == DML_OK) {
		double *x = calloc(2 * (size_t)nf + 1, sizeof *x);
		double *p = calloc(2 * (size_t)nc + 1, sizeof *p);
		if (x && p) {
			for (uint32_t j = 0; j < nf; j++)
				x[nf + j] = 1.0;
			dml_model_proba_raw(m, x, 2, p);
		}
		free(x);
		free(p);
	}
	/* encode, decode, encode: same bytes */
	struct dml_buf b1, b2;
	CHECK(dml_model_encode(m, &b1) == DML_OK);
	struct dml_record r1;
	reparse(&b1, &r1);
	struct dml_model m1;
	enum dml_err rc = dml_model_decode(&r1, &m1, &err);
	if (rc)
		fprintf(stderr, "fuzz-record: re-encoded model does not "
			"decode: %s\n", err.detail);
	CHECK(rc == DML_OK);
	CHECK(dml_model_encode(&m1, &b2) == DML_OK);
	same_bytes(&b1, &b2);
	dml_buf_free(&b2);

	/* a few optimizer steps, with a gradient that matches the model:
	 * its sums are made from the model's own weights */
	uint64_t nw = dml_model_nweights(&m1);
	if (nw <= 65536) {
		for (int step = 0; step < 3; step++) {
			struct dml_grad g = {
				.family = m1.family,
				.schema = m1.schema.fingerprint,
				.basis = dml_record_hash(&r1),
				.iteration = m1.iteration,
				.samples = m1.samples ? m1.samples : 1,
				.contributions = m1.contributions,
				.count = nw + 1,
			};
			g.sums = calloc(nw + 1, sizeof *g.sums);
			CHECK(g.sums);
			const double *pt = dml_model_point(&m1);
			for (uint64_t i = 0; i < nw; i++)
				dml_fx_from_double(pt[i] * (double)(step + 1),
						   &g.sums[1 + i]);
			dml_fx_from_double(1.0 + step, &g.sums[0]);
			g.leaves = m1.leaves; /* borrowed */
			rc = dml_model_apply(&m1, g.basis, &g, &err);
			free(g.sums);
			if (rc)
				break;
			/* the stepped model encodes and decodes */
			struct dml_buf b3;
			CHECK(dml_model_encode(&m1, &b3) == DML_OK);
			dml_record_free(&r1);
			reparse(&b3, &r1);
			struct dml_model m2;
			rc = dml_model_decode(&r1, &m2, &err);
			if (rc)
				fprintf(stderr, "fuzz-record: stepped model "
					"does not decode: %s\n", err.detail);
			CHECK(rc == DML_OK);
			dml_model_free(&m2);
			dml_buf_free(&b3);
		}
	}
	(void)rec;
	dml_model_free(&m1);
	dml_record_free(&r1);
	dml_buf_free(&b1);
}

/* ---- the other kinds ---- */

static void use_stats(struct dml_stats *s)
{
	struct dml_error err = {0};
	struct dml_buf b1, b2;
	CHECK(dml_stats_encode(s, &b1) == DML_OK);
	struct dml_record r1;
	reparse(&b1, &r1);
	struct dml_stats s1;
	enum dml_err rc = dml_stats_decode(&r1, &s1, &err);
	if (rc)
		fprintf(stderr, "fuzz-record: re-encoded stats do not "
			"decode: %s\n", err.detail);
	CHECK(rc == DML_OK);
	CHECK(dml_stats_encode(&s1, &b2) == DML_OK);
	same_bytes(&b1, &b2);
	/* a model from the statistics, as dml-train --apply does */
	struct dml_params p;
	dml_params_default(&p);
	struct dml_model m;
	uint32_t family = s1.labels.n == 2 ? DML_FAMILY_LOGISTIC
					   : DML_FAMILY_SOFTMAX;
	if (s1.schema.nfeat <= 4096 && s1.labels.n <= 4096 &&
	    dml_model_from_stats(&m, &s1, family, &p, &err) == DML_OK) {
		struct dml_buf b3;
		CHECK(dml_model_encode(&m, &b3) == DML_OK);
		struct dml_record r3;
		reparse(&b3, &r3);
		struct dml_model m3;
		rc = dml_model_decode(&r3, &m3, &err);
		if (rc)
			fprintf(stderr, "fuzz-record: model from stats does "
				"not decode: %s\n", err.detail);
		CHECK(rc == DML_OK);
		dml_model_free(&m3);
		dml_record_free(&r3);
		dml_buf_free(&b3);
		dml_model_free(&m);
	}
	dml_stats_free(&s1);
	dml_record_free(&r1);
	dml_buf_free(&b1);
	dml_buf_free(&b2);
}

static void use_grad(struct dml_grad *g)
{
	struct dml_error err = {0};
	struct dml_buf b1, b2;
	CHECK(dml_grad_encode(g, &b1) == DML_OK);
	struct dml_record r1;
	reparse(&b1, &r1);
	struct dml_grad g1;
	CHECK(dml_grad_decode(&r1, &g1, &err) == DML_OK);
	CHECK(dml_grad_encode(&g1, &b2) == DML_OK);
	same_bytes(&b1, &b2);
	dml_grad_free(&g1);
	dml_record_free(&r1);
	dml_buf_free(&b1);
	dml_buf_free(&b2);
}

static void use_ensemble(struct dml_ensemble *e)
{
	struct dml_error err = {0};
	struct dml_buf b1, b2;
	CHECK(dml_ensemble_encode(e, &b1) == DML_OK);
	struct dml_record r1;
	reparse(&b1, &r1);
	struct dml_ensemble e1;
	enum dml_err rc = dml_ensemble_decode(&r1, &e1, &err);
	if (rc)
		fprintf(stderr, "fuzz-record: re-encoded ensemble does not "
			"decode: %s\n", err.detail);
	CHECK(rc == DML_OK);
	CHECK(dml_ensemble_encode(&e1, &b2) == DML_OK);
	same_bytes(&b1, &b2);
	uint32_t nf = e1.members[0].schema.nfeat, nc = e1.members[0].labels.n;
	if (nf <= 4096 && nc <= 4096) {
		double *x = calloc((size_t)nf + 1, sizeof *x);
		double *p = calloc((size_t)nc + 1, sizeof *p);
		if (x && p)
			dml_ensemble_proba(&e1, x, 1, p);
		free(x);
		free(p);
	}
	dml_ensemble_free(&e1);
	dml_record_free(&r1);
	dml_buf_free(&b1);
	dml_buf_free(&b2);
}

static void use_block(const struct dml_record *rec, struct dml_block *b)
{
	struct dml_labels l;
	struct dml_error err = {0};
	if (dml_labels_read(rec, &l, &err) == DML_OK) {
		/* label ids index the Labels section only when in range */
		uint64_t bad = 0;
		for (uint64_t i = 0; b->has_label && i < b->n; i++)
			bad += b->y[i] >= l.n;
		(void)bad;
		dml_labels_free(&l);
	}
}

/* Everything dml-inspect and the other readers do with one record. */
static void walk(const struct dml_record *rec)
{
	struct dml_error err = {0};
	uint64_t pos = 0;
	struct dml_section sec;
	while (dml_record_next(rec, &pos, &sec)) {
		struct dml_cur c;
		dml_cur_init(&c, &sec);
		uint32_t len;
		(void)dml_cur_str(&c, &len);
	}
	(void)dml_record_hash(rec);

	struct dml_schema s;
	if (dml_schema_read(rec, &s, &err) == DML_OK) {
		int64_t *map = malloc(((size_t)s.nfeat + 1) * sizeof *map);
		if (map)
			(void)dml_schema_map(&s, &s, map, &err);
		free(map);
		dml_schema_free(&s);
	}
	struct dml_labels l;
	if (dml_labels_read(rec, &l, &err) == DML_OK) {
		dml_labels_sort(&l);
		if (l.n)
			(void)dml_labels_find(&l, l.names[l.n - 1]);
		dml_labels_free(&l);
	}
	struct dml_leaves lv;
	if (dml_leaves_read(rec, &lv, &err) == DML_OK)
		dml_leaves_free(&lv);

	struct dml_model m;
	if (dml_model_decode(rec, &m, &err) == DML_OK) {
		use_model(&m, rec);
		dml_model_free(&m);
	}
	struct dml_stats st;
	if (dml_stats_decode(rec, &st, &err) == DML_OK) {
		use_stats(&st);
		dml_stats_free(&st);
	}
	struct dml_grad g;
	if (dml_grad_decode(rec, &g, &err) == DML_OK) {
		use_grad(&g);
		dml_grad_free(&g);
	}
	struct dml_ensemble e;
	if (dml_ensemble_decode(rec, &e, &err) == DML_OK) {
		use_ensemble(&e);
		dml_ensemble_free(&e);
	}
	struct dml_block b;
	if (dml_block_decode(rec, &b, &err) == DML_OK) {
		use_block(rec, &b);
		dml_block_free(&b);
	}
}

/* The stream reader must see the same records as the buffer parser. */
static void stream_read(const uint8_t *data, size_t size, size_t nparsed,
			const uint64_t *hashes)
{
	if (size == 0)
		return;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return;
	struct dml_record rec;
	dml_record_init(&rec);
	for (size_t n = 0; n < MAX_RECORDS; n++) {
		struct dml_error err = {0};
		enum dml_err rc = dml_record_read(f, &rec, &err);
		if (n < nparsed) {
			CHECK(rc == DML_OK);
			CHECK(dml_record_hash(&rec) == hashes[n]);
		}
		if (rc)
			break;
	}
	dml_record_free(&rec);
	fclose(f);
}

static void run(const uint8_t *data, size_t size)
{
	struct dml_reducer *red = dml_reducer_new();
	uint64_t hashes[MAX_RECORDS];
	size_t off = 0, n = 0;
	int reducing = 1;
	while (n < MAX_RECORDS && off < size) {
		struct dml_record rec;
		struct dml_error err = {0};
		size_t used = 0;
		dml_record_init(&rec);
		enum dml_err rc = dml_record_parse(data + off, size - off,
						   &used, &rec, &err);
		if (rc) {
			dml_record_free(&rec);
			break;
		}
		CHECK(used >= DML_HEADER_SIZE + DML_TRAILER_SIZE &&
		      used <= size - off);
		hashes[n++] = dml_record_hash(&rec);
		off += used;
		walk(&rec);
		if (reducing && red && dml_reducer_add(red, &rec, &err))
			reducing = 0;
		dml_record_free(&rec);
	}
	if (red && reducing && n > 0) {
		struct dml_buf b = {0};
		struct dml_error err = {0};
		enum dml_err rc = dml_reducer_finish(red, &b, &err);
		if (rc == DML_OK) {
			/* what dml-reduce writes, every reader reads */
			struct dml_record r;
			reparse(&b, &r);
			walk(&r);
			dml_record_free(&r);
		}
		dml_buf_free(&b);
	}
	dml_reducer_free(red);
	stream_read(data, size, n, hashes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size);
	unsigned char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fix_crcs(copy, size);
	if (memcmp(copy, data, size))
		run(copy, size);
	free(copy);
	return 0;
}
