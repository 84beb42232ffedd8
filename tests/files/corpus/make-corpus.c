/* make-corpus.c - write the record corpus of tests/files/corpus.
 *
 *     tests/files/corpus/make-corpus DIR
 *
 * writes every good-*, bad-* and unsupported-* file (and input.csv) into
 * DIR.  Records are put together byte by byte, following man/dml-format.5,
 * not by the library's encoders, so that each bad file has exactly the one
 * defect it is named for and correct checksums wherever the defect is not
 * a checksum.  Only the CRC-32C, the hash, the schema fingerprint and the
 * fixed-point conversion come from the library.  The output is the same on
 * every run and every platform; tests/corpus.bats checks that the committed
 * files are what this program writes.  See the README beside it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "data.h"
#include "fixed.h"
#include "hash.h"
#include "record.h"

static const char *outdir;

/* ---- growing byte buffers ---- */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static unsigned char *grow(struct bytes *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			fputs("make-corpus: out of memory\n", stderr);
			exit(1);
		}
		b->p = p;
		b->cap = cap;
	}
	unsigned char *r = b->p + b->len;
	memset(r, 0, n);
	b->len += n;
	return r;
}

static void u32(struct bytes *b, uint32_t v) { dml_put32(grow(b, 4), v); }
static void u64(struct bytes *b, uint64_t v) { dml_put64(grow(b, 8), v); }

static void f64(struct bytes *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	u64(b, u);
}

static void f32(struct bytes *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	u32(b, u);
}

static void raw(struct bytes *b, const void *p, size_t n)
{
	if (n)
		memcpy(grow(b, n), p, n);
}

static void str(struct bytes *b, const char *s)
{
	u32(b, (uint32_t)strlen(s));
	raw(b, s, strlen(s));
}

static void fx(struct bytes *b, double v)
{
	struct dml_fx x;
	if (dml_fx_from_double(v, &x)) {
		fputs("make-corpus: fixed-point value out of range\n", stderr);
		exit(1);
	}
	dml_fx_store(grow(b, DML_FX_BYTES), &x);
}

static void pad8(struct bytes *b)
{
	grow(b, (8 - b->len % 8) % 8);
}

static void bfree(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- records ---- */

/* A record being put together: header fields, then sections. */
struct rec {
	uint16_t version, kind;
	uint32_t flags, family;
	uint64_t schema, basis, iteration, samples, contributions;
	uint32_t reserved;
	uint32_t nsections;
	struct bytes pay;
	size_t open;      /* offset of the open section's header + 1, or 0 */
};

static void rec_init(struct rec *r, uint16_t kind, uint32_t family)
{
	memset(r, 0, sizeof *r);
	r->version = DML_VERSION;
	r->kind = kind;
	r->family = family;
}

static void sec_end(struct rec *r)
{
	if (!r->open)
		return;
	size_t at = r->open - 1;
	dml_put64(r->pay.p + at + 8, r->pay.len - at - DML_SECTION_HEADER);
	pad8(&r->pay);
	r->open = 0;
}

static struct bytes *sec(struct rec *r, uint32_t tag, uint32_t flags)
{
	sec_end(r);
	r->open = r->pay.len + 1;
	u32(&r->pay, tag);
	u32(&r->pay, flags);
	u64(&r->pay, 0);
	r->nsections++;
	return &r->pay;
}

/* Recompute both checksums of the record at p (len bytes, whole). */
static void seal(unsigned char *p, size_t len)
{
	dml_put32(p + 76, dml_crc32c(0, p, 76));
	uint64_t plen = dml_get64(p + 24);
	size_t end = DML_HEADER_SIZE + (size_t)plen;
	if (end + DML_TRAILER_SIZE <= len)
		dml_put32(p + end, dml_crc32c(0, p, end));
}

/* The whole record into out (appended); the record is freed. */
static void rec_finish(struct rec *r, struct bytes *out)
{
	sec_end(r);
	size_t at = out->len;
	unsigned char *h = grow(out, DML_HEADER_SIZE);
	memcpy(h, DML_MAGIC, DML_MAGIC_LEN);
	h[8] = (unsigned char)r->version;
	h[9] = (unsigned char)(r->version >> 8);
	h[10] = (unsigned char)r->kind;
	h[11] = (unsigned char)(r->kind >> 8);
	dml_put32(h + 12, r->flags);
	dml_put32(h + 16, r->family);
	dml_put32(h + 20, r->nsections);
	dml_put64(h + 24, r->pay.len);
	dml_put64(h + 32, r->schema);
	dml_put64(h + 40, r->basis);
	dml_put64(h + 48, r->iteration);
	dml_put64(h + 56, r->samples);
	dml_put64(h + 64, r->contributions);
	dml_put32(h + 72, r->reserved);
	raw(out, r->pay.p, r->pay.len);
	grow(out, DML_TRAILER_SIZE);
	seal(out->p + at, out->len - at);
	bfree(&r->pay);
}

static void write_file(const char *name, const void *p, size_t n)
{
	size_t len = strlen(outdir) + strlen(name) + 2;
	char *path = malloc(len);
	if (!path)
		exit(1);
	snprintf(path, len, "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		fprintf(stderr, "make-corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(path);
}

static void emit(const char *name, struct bytes *b)
{
	write_file(name, b->p, b->len);
	bfree(b);
}

/* ---- the data set behind the records ----
 *
 * Two features, x1 and x2; label column "label"; classes "no" and "yes"
 * (logistic) or "a", "b" and "c" (softmax).  Every number is exact in
 * binary, so the files do not depend on how a platform prints or rounds. */

static char *feat_names[] = { "x1", "x2" };

static uint64_t fingerprint(uint32_t nfeat, char **names, const char *label)
{
	struct dml_schema s = {
		.nfeat = nfeat, .names = names, .label = (char *)label,
	};
	dml_schema_fingerprint(&s);
	return s.fingerprint;
}

static uint64_t fp2(void)
{
	return fingerprint(2, feat_names, "label");
}

static void put_schema(struct rec *r, uint32_t nfeat, char **names,
		       const char *label)
{
	struct bytes *b = sec(r, DML_SEC_SCHEMA, 0);
	u32(b, nfeat);
	str(b, label);
	for (uint32_t i = 0; i < nfeat; i++)
		str(b, names[i]);
}

static void put_labels(struct rec *r, uint32_t n, const char **names,
		       const uint64_t *counts)
{
	struct bytes *b = sec(r, DML_SEC_LABELS, 0);
	u32(b, n);
	u32(b, 0);
	for (uint32_t i = 0; i < n; i++) {
		u64(b, counts[i]);
		str(b, names[i]);
	}
}

static void put_leaves(struct rec *r, uint64_t n, const uint64_t *ids)
{
	struct bytes *b = sec(r, DML_SEC_LEAVES, 0);
	u64(b, n);
	for (uint64_t i = 0; i < n; i++)
		u64(b, ids[i]);
}

static void put_params(struct rec *r, double l2)
{
	struct bytes *b = sec(r, DML_SEC_PARAMS, 0);
	u32(b, 1); u32(b, 1); f64(b, l2);        /* l2 */
	u32(b, 2); u32(b, 0); u64(b, 0);         /* optimizer: lbfgs */
	u32(b, 3); u32(b, 0); u64(b, 100);       /* max-iter */
	u32(b, 4); u32(b, 1); f64(b, 0x1p-17);   /* tol */
	u32(b, 5); u32(b, 0); u64(b, 10);        /* memory */
	u32(b, 6); u32(b, 0); u64(b, 5);         /* epochs */
	u32(b, 7); u32(b, 1); f64(b, 0.125);     /* learning-rate */
	u32(b, 8); u32(b, 0); u64(b, 64);        /* batch */
	u32(b, 9); u32(b, 0); u64(b, 1);         /* seed */
	u32(b, 10); u32(b, 0); u64(b, 3);        /* warm-start */
}

static void put_scaler(struct rec *r, uint32_t nfeat)
{
	struct bytes *b = sec(r, DML_SEC_SCALER, 0);
	u32(b, nfeat);
	u32(b, 0);
	for (uint32_t j = 0; j < nfeat; j++)
		f64(b, 1.5 + j);          /* means */
	for (uint32_t j = 0; j < nfeat; j++)
		f64(b, 0.5 / (j + 1));    /* scales */
}

static double weight(uint32_t i, double shift)
{
	return (double)(i % 5) * 0.25 - 0.5 + shift;
}

static void put_weights(struct rec *r, uint32_t rows, uint32_t cols,
			double shift)
{
	struct bytes *b = sec(r, DML_SEC_WEIGHTS, 0);
	u32(b, rows);
	u32(b, cols);
	for (uint32_t i = 0; i < rows * cols; i++)
		f64(b, weight(i, shift));
}

/* An optimizer that is done (no vectors), or live with one L-BFGS pair. */
static void put_optim(struct rec *r, uint64_t n, int live)
{
	struct bytes *b = sec(r, DML_SEC_OPTIM, 0);
	u32(b, 0);              /* lbfgs */
	u32(b, live ? 1 : 2);   /* line search, or done */
	u32(b, live ? 0 : 1);   /* running, or converged */
	u32(b, 10);             /* M */
	u32(b, live ? 1 : 0);   /* H */
	u32(b, 0);
	u64(b, n);
	u64(b, 12);             /* evaluations */
	u64(b, 10);             /* accepted steps */
	u64(b, live ? 1 : 0);   /* backtracks */
	f64(b, 0.375);          /* objective */
	f64(b, live ? 0.5 : 1.0);
	f64(b, -0.0625);
	u32(b, live ? 1 : 0);
	u32(b, 0);
	if (!live)
		return;
	for (int v = 0; v < 3; v++)      /* gradient, direction, trial */
		for (uint64_t i = 0; i < n; i++)
			f64(b, (double)(v + 1) * 0.0625 - (double)i / 64);
	f64(b, 4.0);                      /* rho */
	for (int v = 0; v < 2; v++)      /* s, y */
		for (uint64_t i = 0; i < n; i++)
			f64(b, (double)(v + 1) * 0.125 + (double)i / 32);
}

static const char *yes_no[] = { "no", "yes" };
static const uint64_t yes_no_counts[] = { 3, 5 };
static const char *abc[] = { "a", "b", "c" };
static const uint64_t abc_counts[] = { 2, 3, 3 };
static const uint64_t leaf1[] = { UINT64_C(0x1111111111111111) };

/* What a model has, and what a bad file changes. */
struct model_spec {
	uint32_t family;          /* 1 logistic, 2 softmax */
	int live;                 /* optimizer live with one pair */
	double shift;             /* added to every weight */
	uint64_t leaf;            /* its one leaf */
	double l2;
	int wsum;                 /* an optional Sums section */
};

static void model_rec(struct rec *r, const struct model_spec *s)
{
	uint32_t nc = s->family == 1 ? 2 : 3;
	uint32_t cols = s->family == 1 ? 1 : nc;
	uint64_t leaf = s->leaf ? s->leaf : leaf1[0];
	rec_init(r, DML_KIND_MODEL, s->family);
	r->schema = fp2();
	r->iteration = 10;
	r->samples = 8;
	r->contributions = 1;
	put_schema(r, 2, feat_names, "label");
	put_labels(r, nc, s->family == 1 ? yes_no : abc,
		   s->family == 1 ? yes_no_counts : abc_counts);
	put_params(r, s->l2);
	put_scaler(r, 2);
	put_weights(r, 3, cols, s->shift);
	put_optim(r, 3 * (uint64_t)cols, s->live);
	put_leaves(r, 1, &leaf);
	if (s->wsum) {
		struct bytes *b = sec(r, DML_SEC_SUMS, DML_SECF_OPTIONAL);
		u64(b, 3 * (uint64_t)cols);
		for (uint32_t i = 0; i < 3 * cols; i++)
			fx(b, weight(i, s->shift) * (double)r->samples);
	}
}

static void model_bytes(const struct model_spec *s, struct bytes *out)
{
	struct rec r;
	model_rec(&r, s);
	rec_finish(&r, out);
}

static const struct model_spec logistic = { .family = 1, .l2 = 0x1p-10 };
static const struct model_spec softmax = {
	.family = 2, .live = 1, .l2 = 0x1p-10,
};

static void stats_rec_leaves(struct rec *r, uint64_t nleaves,
			     const uint64_t *leaves, double shift)
{
	rec_init(r, DML_KIND_STATS, 0);
	r->schema = fp2();
	r->samples = 8;
	r->contributions = nleaves;
	put_schema(r, 2, feat_names, "label");
	put_labels(r, 2, yes_no, yes_no_counts);
	struct bytes *b = sec(r, DML_SEC_SUMS, 0);
	u64(b, 4);
	fx(b, 12 + shift);      /* sum of x1 */
	fx(b, -4 + shift);      /* sum of x2 */
	fx(b, 26.5);            /* sum of x1^2 */
	fx(b, 9.25);            /* sum of x2^2 */
	b = sec(r, DML_SEC_RANGE, 0);
	u32(b, 2);
	u32(b, 0);
	f64(b, -1.0);           /* minima */
	f64(b, -2.5);
	f64(b, 3.5 + shift);    /* maxima */
	f64(b, 1.0);
	put_leaves(r, nleaves, leaves);
}

static void stats_rec(struct rec *r, uint64_t leaf, double shift)
{
	stats_rec_leaves(r, 1, &leaf, shift);
}

static void grad_rec(struct rec *r, uint64_t leaf)
{
	rec_init(r, DML_KIND_GRADIENT, 1);
	r->schema = fp2();
	r->basis = UINT64_C(0x0123456789abcdef);
	r->iteration = 3;
	r->samples = 8;
	r->contributions = 1;
	struct bytes *b = sec(r, DML_SEC_SUMS, 0);
	u64(b, 4);
	fx(b, 5.5);             /* loss */
	fx(b, -0.75);           /* gradient: x1, x2, bias */
	fx(b, 0.375);
	fx(b, 1.0 / 1024);
	put_leaves(r, 1, &leaf);
}

/* Rows of a data record: dtype 1 (f32) or 2 (f64), n rows of 2 values. */
static void data_rec(struct rec *r, uint32_t dtype, uint64_t n, int labelled)
{
	static const uint64_t counts[] = { 2, 1 };
	rec_init(r, DML_KIND_DATA, 0);
	r->schema = fingerprint(2, feat_names, labelled ? "label" : "");
	r->samples = n;
	put_schema(r, 2, feat_names, labelled ? "label" : "");
	put_labels(r, labelled ? 2 : 0, yes_no, counts);
	struct bytes *b = sec(r, DML_SEC_ROWS, 0);
	u64(b, n);
	u32(b, 2);
	u32(b, dtype);
	u32(b, (uint32_t)labelled);
	u32(b, 0);
	for (uint64_t i = 0; i < 2 * n; i++) {
		double v = (double)i * 0.5 - 1;
		if (dtype == 1)
			f32(b, (float)v);
		else
			f64(b, v);
	}
	pad8(b);
	for (uint64_t i = 0; labelled && i < n; i++)
		u32(b, i == 1 ? 1 : 0);   /* no, yes, no: first appearance */
	pad8(b);
}

static void ensemble_rec(struct rec *r, const struct model_spec *a,
			 const struct model_spec *b)
{
	rec_init(r, DML_KIND_ENSEMBLE, a->family == b->family ? a->family : 0);
	r->schema = fp2();
	r->samples = 16;
	r->contributions = 2;
	struct bytes m = {0};
	model_bytes(a, &m);
	raw(sec(r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
	model_bytes(b, &m);
	raw(sec(r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
}

/* A tree model (family 12) of classes "no" and "yes": with chain 0,
 * x1 <= 0.5 ? no : yes; with chain D, D splits on x1 <= 0.5, each with a
 * leaf on its left and the next split (or the last leaf) on its right,
 * so that the last leaf has depth D. */
static void tree_rec(struct rec *r, uint32_t chain)
{
	uint32_t d = chain ? chain : 1, nn = 2 * d + 1, nl = d + 1;
	rec_init(r, DML_KIND_MODEL, 12);
	r->schema = fp2();
	r->samples = 8;
	r->contributions = 1;
	put_schema(r, 2, feat_names, "label");
	put_labels(r, 2, yes_no, yes_no_counts);
	struct bytes *b = sec(r, DML_SEC_PARAMS, 0);
	u32(b, 51); u32(b, 0); u64(b, 64);       /* max-depth */
	b = sec(r, 25, 0);
	u32(b, nn);
	u32(b, nl);
	u32(b, 2);
	u32(b, 0);
	for (uint32_t i = 0; i < d; i++) {
		u32(b, 0); u32(b, 2 * i + 1); u32(b, 2 * i + 2); u32(b, 0);
		f64(b, 0.5);
		u32(b, UINT32_MAX); u32(b, i); u32(b, 0); u32(b, 0);
		f64(b, 0);
	}
	u32(b, UINT32_MAX); u32(b, d); u32(b, 0); u32(b, 0);
	f64(b, 0);
	for (uint32_t i = 0; i < nl; i++) {
		f64(b, i % 2 ? 0 : 3);
		f64(b, i % 2 ? 5 : 0);
	}
	put_leaves(r, 1, leaf1);
}

/* ---- offsets into a finished record ---- */

/* The offset in the file of the data of the first section with tag. */
static size_t find_sec(const struct bytes *b, uint32_t tag)
{
	size_t pos = DML_HEADER_SIZE, end = DML_HEADER_SIZE +
					    (size_t)dml_get64(b->p + 24);
	while (pos + DML_SECTION_HEADER <= end) {
		uint64_t len = dml_get64(b->p + pos + 8);
		if (dml_get32(b->p + pos) == tag)
			return pos + DML_SECTION_HEADER;
		pos += DML_SECTION_HEADER + (size_t)((len + 7) & ~UINT64_C(7));
	}
	fprintf(stderr, "make-corpus: no section %u\n", tag);
	exit(1);
}

static void reseal(struct bytes *b)
{
	seal(b->p, b->len);
}

/* ---- the files ---- */

static void good_files(void)
{
	struct rec r;
	struct bytes b = {0};

	model_bytes(&logistic, &b);
	emit("good-model-logistic.dml", &b);
	model_bytes(&softmax, &b);
	emit("good-model-softmax.dml", &b);

	struct model_spec avg = logistic;
	avg.wsum = 1;
	model_bytes(&avg, &b);
	emit("good-model-averaged.dml", &b);

	/* a model of no features: only biases */
	rec_init(&r, DML_KIND_MODEL, 1);
	r.schema = fingerprint(0, NULL, "label");
	r.samples = 8;
	r.contributions = 1;
	put_schema(&r, 0, NULL, "label");
	put_labels(&r, 2, yes_no, yes_no_counts);
	put_params(&r, 0);
	put_scaler(&r, 0);
	put_weights(&r, 1, 1, 0);
	put_optim(&r, 1, 0);
	put_leaves(&r, 1, leaf1);
	rec_finish(&r, &b);
	emit("good-model-no-features.dml", &b);

	/* unknown optional sections, one of a length that needs padding */
	model_rec(&r, &logistic);
	raw(sec(&r, 1000, DML_SECF_OPTIONAL), "a newer writer's section", 24);
	raw(sec(&r, DML_SEC_NOTE, DML_SECF_OPTIONAL), "made by make-corpus",
	    19);
	rec_finish(&r, &b);
	emit("good-optional-section.dml", &b);

	grad_rec(&r, leaf1[0]);
	rec_finish(&r, &b);
	emit("good-gradient.dml", &b);

	stats_rec(&r, leaf1[0], 0);
	rec_finish(&r, &b);
	emit("good-stats.dml", &b);

	struct model_spec second = logistic;
	second.shift = 0.5;
	second.leaf = UINT64_C(0x2222222222222222);
	ensemble_rec(&r, &logistic, &second);
	rec_finish(&r, &b);
	emit("good-ensemble.dml", &b);

	tree_rec(&r, 0);
	rec_finish(&r, &b);
	emit("good-model-tree.dml", &b);

	tree_rec(&r, 64);
	rec_finish(&r, &b);
	emit("good-model-tree-deep.dml", &b);

	data_rec(&r, DML_F64, 3, 1);
	rec_finish(&r, &b);
	emit("good-data-f64.dml", &b);
	data_rec(&r, DML_F32, 3, 1);
	rec_finish(&r, &b);
	emit("good-data-f32.dml", &b);
	data_rec(&r, DML_F32, 3, 0);
	rec_finish(&r, &b);
	emit("good-data-unlabelled.dml", &b);

	/* a stream: three statistics of three shards */
	for (uint64_t i = 1; i <= 3; i++) {
		stats_rec(&r, UINT64_C(0x1111111111111111) * i, (double)i);
		rec_finish(&r, &b);
	}
	emit("good-stream.dml", &b);

	static const char csv[] =
		"x1,x2,label\n1,2,no\n-1,0.5,yes\n3.5,-2.5,yes\n";
	write_file("input.csv", csv, sizeof csv - 1);
}

static void bad_files(void)
{
	struct rec r;
	struct bytes b = {0}, m = {0};
	size_t at;

	/* framing */
	model_bytes(&logistic, &b);
	b.p[0] = 0x88;
	emit("bad-magic.dml", &b);

	model_bytes(&logistic, &b);
	b.len = 50;
	emit("bad-truncated-header.dml", &b);

	model_bytes(&logistic, &b);
	b.len = DML_HEADER_SIZE + 100;
	emit("bad-truncated-payload.dml", &b);

	model_bytes(&logistic, &b);
	b.len -= 3;
	emit("bad-truncated-trailer.dml", &b);

	model_bytes(&logistic, &b);
	b.p[48] ^= 1;                     /* the iteration, CRC not updated */
	emit("bad-header-crc.dml", &b);

	model_bytes(&logistic, &b);
	b.p[find_sec(&b, DML_SEC_WEIGHTS) + 9] ^= 0x10;
	emit("bad-payload-crc.dml", &b);

	model_bytes(&logistic, &b);
	dml_put64(b.p + 24, dml_get64(b.p + 24) + 4);
	reseal(&b);
	emit("bad-payload-unaligned.dml", &b);

	/* a payload of 2^40 bytes claimed: refused before reading it */
	model_bytes(&logistic, &b);
	dml_put64(b.p + 24, UINT64_C(1) << 40);
	reseal(&b);
	emit("bad-payload-too-big.dml", &b);

	/* 4 GiB claimed (the limit) on a stream of 200 bytes: memory grows
	 * only with what arrives */
	model_bytes(&logistic, &b);
	dml_put64(b.p + 24, UINT64_C(1) << 32);
	reseal(&b);
	b.len = 200;
	emit("bad-payload-huge-claim.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + 20, 5000);
	reseal(&b);
	emit("bad-sections-too-many.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + 20, 8);           /* the payload holds 7 */
	reseal(&b);
	emit("bad-nsections.dml", &b);

	model_bytes(&logistic, &b);
	at = find_sec(&b, DML_SEC_WEIGHTS);
	dml_put64(b.p + at - 8, UINT64_C(1) << 40);
	reseal(&b);
	emit("bad-section-length.dml", &b);

	/* eight bytes after the last section: not room for a header */
	model_rec(&r, &logistic);
	sec_end(&r);
	grow(&r.pay, 8);
	rec_finish(&r, &b);
	emit("bad-section-cut.dml", &b);

	/* the schema section ends in 3 bytes of padding: make one nonzero */
	model_bytes(&logistic, &b);
	at = find_sec(&b, DML_SEC_SCHEMA);
	b.p[at + dml_get64(b.p + at - 8)] = 0x01;
	reseal(&b);
	emit("bad-padding.dml", &b);

	/* contents: counts that claim more than the bytes there */
	grad_rec(&r, leaf1[0]);
	rec_finish(&r, &b);
	dml_put64(b.p + find_sec(&b, DML_SEC_SUMS), UINT64_C(1) << 40);
	reseal(&b);
	emit("bad-sums-count.dml", &b);

	grad_rec(&r, leaf1[0]);
	rec_finish(&r, &b);
	dml_put64(b.p + find_sec(&b, DML_SEC_LEAVES), UINT64_C(1) << 40);
	reseal(&b);
	emit("bad-leaves-count.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_SCHEMA), UINT32_C(1) << 30);
	reseal(&b);
	emit("bad-schema-count.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_LABELS), UINT32_C(0xffffffff));
	reseal(&b);
	emit("bad-labels-count.dml", &b);

	/* the label column's name claims 2^31 bytes */
	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_SCHEMA) + 4, UINT32_C(1) << 31);
	reseal(&b);
	emit("bad-string-length.dml", &b);

	model_bytes(&logistic, &b);
	at = find_sec(&b, DML_SEC_WEIGHTS);
	dml_put32(b.p + at, 65536);
	dml_put32(b.p + at + 4, 65536);
	reseal(&b);
	emit("bad-weights-dims.dml", &b);

	/* a live optimizer that claims 1000 history pairs */
	model_bytes(&softmax, &b);
	at = find_sec(&b, DML_SEC_OPTIM);
	dml_put32(b.p + at + 12, 1000);
	dml_put32(b.p + at + 16, 1000);
	reseal(&b);
	emit("bad-optim-history.dml", &b);

	/* 4096 rows of 2^20 values claimed in a record of 3 rows */
	data_rec(&r, DML_F64, 3, 1);
	rec_finish(&r, &b);
	at = find_sec(&b, DML_SEC_ROWS);
	dml_put64(b.p + at, 4096);
	dml_put32(b.p + at + 8, UINT32_C(1) << 20);
	dml_put64(b.p + 56, 4096);
	reseal(&b);
	emit("bad-rows-count.dml", &b);

	/* contents: meaning */
	model_bytes(&logistic, &b);
	dml_put64(b.p + 32, dml_get64(b.p + 32) ^ 1);
	reseal(&b);
	emit("bad-fingerprint.dml", &b);

	model_bytes(&logistic, &b);
	at = find_sec(&b, DML_SEC_WEIGHTS);
	dml_put64(b.p + at + 8 + 8, UINT64_C(0x7ff8000000000000));
	reseal(&b);
	emit("bad-weights-nan.dml", &b);

	model_bytes(&logistic, &b);
	at = find_sec(&b, DML_SEC_SCALER);
	dml_put64(b.p + at + 8 + 16, UINT64_C(0xfff0000000000000));
	reseal(&b);
	emit("bad-scaler-inf.dml", &b);

	{
		static const uint64_t unsorted[] = {
			UINT64_C(0x2222222222222222),
			UINT64_C(0x1111111111111111),
		};
		stats_rec_leaves(&r, 2, unsorted, 0);
		rec_finish(&r, &b);
		emit("bad-leaves-unsorted.dml", &b);
	}

	stats_rec(&r, leaf1[0], 0);
	r.contributions = 3;
	rec_finish(&r, &b);
	emit("bad-leaves-contributions.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_LABELS) + 4, 1);
	reseal(&b);
	emit("bad-labels-reserved.dml", &b);

	/* a logistic model of three classes (one weight column) */
	rec_init(&r, DML_KIND_MODEL, 1);
	r.schema = fp2();
	r.samples = 8;
	r.contributions = 1;
	put_schema(&r, 2, feat_names, "label");
	put_labels(&r, 3, abc, abc_counts);
	put_params(&r, 0x1p-10);
	put_scaler(&r, 2);
	put_weights(&r, 3, 1, 0);
	put_optim(&r, 3, 0);
	put_leaves(&r, 1, leaf1);
	rec_finish(&r, &b);
	emit("bad-family-classes.dml", &b);

	struct model_spec neg = logistic;
	neg.l2 = -1;
	model_bytes(&neg, &b);
	emit("bad-params-value.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_PARAMS) + 4, 2);
	reseal(&b);
	emit("bad-params-type.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_OPTIM) + 20, 1);
	reseal(&b);
	emit("bad-optim-reserved.dml", &b);

	/* a live optimizer whose trial point has a NaN in it (a bias): one
	 * step would have made it a weight */
	model_bytes(&softmax, &b);
	at = find_sec(&b, DML_SEC_OPTIM) + 88 + 2 * 9 * 8 + 6 * 8;
	dml_put64(b.p + at, UINT64_C(0x7ff8000000000000));
	reseal(&b);
	emit("bad-optim-nan.dml", &b);

	/* x1's minimum above its maximum */
	stats_rec(&r, leaf1[0], 0);
	rec_finish(&r, &b);
	dml_put64(b.p + find_sec(&b, DML_SEC_RANGE) + 8,
		  UINT64_C(0x4020000000000000)); /* 8.0 */
	reseal(&b);
	emit("bad-range.dml", &b);

	/* three features' worth of sums for two */
	rec_init(&r, DML_KIND_STATS, 0);
	r.schema = fp2();
	r.samples = 8;
	r.contributions = 1;
	put_schema(&r, 2, feat_names, "label");
	put_labels(&r, 2, yes_no, yes_no_counts);
	{
		struct bytes *s = sec(&r, DML_SEC_SUMS, 0);
		u64(s, 6);
		for (int i = 0; i < 6; i++)
			fx(s, i);
		s = sec(&r, DML_SEC_RANGE, 0);
		u32(s, 2);
		u32(s, 0);
		f64(s, 0);
		f64(s, 0);
		f64(s, 1);
		f64(s, 1);
	}
	put_leaves(&r, 1, leaf1);
	rec_finish(&r, &b);
	emit("bad-stats-sums.dml", &b);

	/* a gradient without its Leaves, a model without its Weights */
	rec_init(&r, DML_KIND_GRADIENT, 1);
	r.schema = fp2();
	r.iteration = 3;
	r.samples = 8;
	{
		struct bytes *s = sec(&r, DML_SEC_SUMS, 0);
		u64(s, 1);
		fx(s, 1);
	}
	rec_finish(&r, &b);
	emit("bad-gradient-no-leaves.dml", &b);

	rec_init(&r, DML_KIND_MODEL, 1);
	r.schema = fp2();
	r.samples = 8;
	r.contributions = 1;
	put_schema(&r, 2, feat_names, "label");
	put_labels(&r, 2, yes_no, yes_no_counts);
	put_params(&r, 0);
	put_scaler(&r, 2);
	put_optim(&r, 3, 0);
	put_leaves(&r, 1, leaf1);
	rec_finish(&r, &b);
	emit("bad-model-no-weights.dml", &b);

	/* a feature name with a NUL in it */
	{
		char *names[] = { "x1", "x2" };
		model_bytes(&logistic, &b);
		at = find_sec(&b, DML_SEC_SCHEMA);
		/* u32 F, "label" (4 + 5), then "x1": its second byte */
		b.p[at + 4 + 9 + 4 + 1] = 0;
		dml_put64(b.p + 32, fingerprint(2, names, "label"));
		reseal(&b);
		emit("bad-string-nul.dml", &b);
	}

	/* two features of the same name */
	{
		char *names[] = { "x1", "x1" };
		rec_init(&r, DML_KIND_MODEL, 1);
		r.schema = fingerprint(2, names, "label");
		r.samples = 8;
		r.contributions = 1;
		put_schema(&r, 2, names, "label");
		put_labels(&r, 2, yes_no, yes_no_counts);
		put_params(&r, 0x1p-10);
		put_scaler(&r, 2);
		put_weights(&r, 3, 1, 0);
		put_optim(&r, 3, 0);
		put_leaves(&r, 1, leaf1);
		rec_finish(&r, &b);
		emit("bad-schema-duplicate.dml", &b);
	}

	/* ensembles */
	rec_init(&r, DML_KIND_ENSEMBLE, 1);
	r.schema = fp2();
	r.samples = 8;
	r.contributions = 1;
	{
		struct rec s;
		stats_rec(&s, leaf1[0], 0);
		rec_finish(&s, &m);
	}
	raw(sec(&r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
	rec_finish(&r, &b);
	emit("bad-ensemble-member-kind.dml", &b);

	rec_init(&r, DML_KIND_ENSEMBLE, 1);
	r.schema = fp2();
	r.samples = 8;
	r.contributions = 1;
	model_bytes(&logistic, &m);
	m.p[find_sec(&m, DML_SEC_WEIGHTS) + 9] ^= 0x10;
	raw(sec(&r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
	rec_finish(&r, &b);
	emit("bad-ensemble-member-crc.dml", &b);

	rec_init(&r, DML_KIND_ENSEMBLE, 1);
	r.schema = fp2();
	r.samples = 8;
	r.contributions = 1;
	model_bytes(&logistic, &m);
	grow(&m, 8);
	raw(sec(&r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
	rec_finish(&r, &b);
	emit("bad-ensemble-trailing.dml", &b);

	rec_init(&r, DML_KIND_ENSEMBLE, 0);
	rec_finish(&r, &b);
	emit("bad-ensemble-empty.dml", &b);

	/* a member that is a whole record of no payload at all */
	rec_init(&r, DML_KIND_ENSEMBLE, 1);
	r.schema = fp2();
	{
		struct rec s;
		rec_init(&s, DML_KIND_MODEL, 1);
		s.schema = fp2();
		rec_finish(&s, &m);
	}
	raw(sec(&r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
	rec_finish(&r, &b);
	emit("bad-ensemble-empty-member.dml", &b);

	{
		struct model_spec second = logistic;
		second.leaf = UINT64_C(0x2222222222222222);
		ensemble_rec(&r, &logistic, &second);
		rec_finish(&r, &m);
	}
	rec_init(&r, DML_KIND_ENSEMBLE, 1);
	r.schema = fp2();
	r.samples = 16;
	r.contributions = 2;
	raw(sec(&r, DML_SEC_MEMBER, 0), m.p, m.len);
	bfree(&m);
	rec_finish(&r, &b);
	emit("bad-ensemble-nested.dml", &b);

	ensemble_rec(&r, &logistic, &softmax);
	rec_finish(&r, &b);
	emit("bad-ensemble-mismatch.dml", &b);

	/* trees: a child before its parent (a cycle), a child beyond the
	 * nodes, a leaf deeper than 64 */
	tree_rec(&r, 0);
	rec_finish(&r, &b);
	dml_put32(b.p + find_sec(&b, 25) + 16 + 4, 0);   /* root's left */
	reseal(&b);
	emit("bad-tree-cycle.dml", &b);

	tree_rec(&r, 0);
	rec_finish(&r, &b);
	dml_put32(b.p + find_sec(&b, 25) + 16 + 8, 3);   /* root's right */
	reseal(&b);
	emit("bad-tree-child-range.dml", &b);

	tree_rec(&r, 65);
	rec_finish(&r, &b);
	emit("bad-tree-deep.dml", &b);

	/* data records */
	data_rec(&r, DML_F64, 3, 1);
	rec_finish(&r, &b);
	at = find_sec(&b, DML_SEC_ROWS);
	dml_put32(b.p + at + 24 + 3 * 2 * 8 + 4, 7);  /* row 2's label */
	reseal(&b);
	emit("bad-data-label-id.dml", &b);

	data_rec(&r, DML_F64, 3, 1);
	r.samples = 4;
	rec_finish(&r, &b);
	emit("bad-data-samples.dml", &b);

	data_rec(&r, DML_F64, 3, 1);
	rec_finish(&r, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_ROWS) + 12, 3);
	reseal(&b);
	emit("bad-data-dtype.dml", &b);

	/* rows of 3 values (f64, 2 rows: 48 bytes, as 3 rows of 2) for a
	 * schema of 2 features */
	data_rec(&r, DML_F64, 3, 0);
	r.samples = 2;
	rec_finish(&r, &b);
	at = find_sec(&b, DML_SEC_ROWS);
	dml_put64(b.p + at, 2);
	dml_put32(b.p + at + 8, 3);
	reseal(&b);
	emit("bad-data-features.dml", &b);

	/* the second record of a stream is cut short */
	stats_rec(&r, leaf1[0], 0);
	rec_finish(&r, &b);
	stats_rec(&r, UINT64_C(0x2222222222222222), 1);
	rec_finish(&r, &b);
	b.len -= 20;
	emit("bad-stream-truncated.dml", &b);
}

static void unsupported_files(void)
{
	struct rec r;
	struct bytes b = {0};

	model_bytes(&logistic, &b);
	b.p[8] = 2;
	reseal(&b);
	emit("unsupported-version.dml", &b);

	model_bytes(&logistic, &b);
	b.p[10] = 9;
	reseal(&b);
	emit("unsupported-kind.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + 12, 1);
	reseal(&b);
	emit("unsupported-header-flags.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + 72, 0x100);
	reseal(&b);
	emit("unsupported-header-reserved.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + b.len - 4, 1);
	emit("unsupported-trailer-reserved.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + find_sec(&b, DML_SEC_WEIGHTS) - 12, 2);
	reseal(&b);
	emit("unsupported-section-flags.dml", &b);

	model_rec(&r, &logistic);
	raw(sec(&r, 99, 0), "a section that changes the meaning", 34);
	rec_finish(&r, &b);
	emit("unsupported-required-section.dml", &b);

	model_bytes(&logistic, &b);
	dml_put32(b.p + 16, 99);
	reseal(&b);
	emit("unsupported-family.dml", &b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("Usage: make-corpus DIR\n", stderr);
		return 2;
	}
	outdir = argv[1];
	good_files();
	bad_files();
	unsupported_files();
	return 0;
}
