/* fuzz-svm.c - libFuzzer target for the svmlight reader: bytes as an
 * svmlight file through dml_data_load (format detection, the streaming
 * reader, indices, numbers, labels, a model's schema), from a memfd and
 * from a pipe.  Built with DML_SVM_MAX_FEATURES at 4096, so that rows
 * stay small.
 *
 * The first two bytes choose the options; the rest is the input:
 *
 *   byte 0  bits 0-1  --input-format: auto, svmlight, svmlight, auto
 *           bits 2-3  --features: none, 3, 8, none
 *           bits 4-5  label: none, "label", "y", "label"
 *           bit 6     the label is a number (regression)
 *           bit 7     map to a model's schema and classes ("-1", "1",
 *                     "x"): features 1, 2, 3, or (byte 1 bit 1) 2, 5, 9
 *   byte 1  bit 0     split the input in two files at byte
 *                     (byte 1 >> 4) / 16 of it
 *           bit 2     a CSV delimiter of ';' instead of ','
 *
 * Invariants: the input read from a pipe (where the format is told by
 * reading ahead and handing the bytes back) loads as it does from a
 * file, to the same rows or the same error; what loads as svmlight
 * loads the same from the equivalent dense CSV text (header "label,1,2,
 * ..."), values printed with 17 digits; its statistics encode and
 * decode and its rows survive binary blocks (fuzz-load.h). */
#include "fuzz-load.h"

#include <fcntl.h>
#include <math.h>

#include "svmread.h"

static char *names_123[] = { "1", "2", "3" };
static char *names_259[] = { "2", "5", "9" };
static char *classes_svm[] = { "-1", "1", "x" };

struct svm_setup {
	struct dml_load_opts o;
	struct dml_schema schema;
	struct dml_labels classes;
};

static void svm_opts(struct svm_setup *s, uint8_t b0, uint8_t b1)
{
	static const int formats[] = {
		DML_INPUT_AUTO, DML_INPUT_SVMLIGHT, DML_INPUT_SVMLIGHT,
		DML_INPUT_AUTO,
	};
	static const uint32_t features[] = { 0, 3, 8, 0 };
	static const char *labels[] = { NULL, "label", "y", "label" };
	memset(s, 0, sizeof *s);
	s->o.input_format = formats[b0 & 3];
	s->o.features = features[(b0 >> 2) & 3];
	s->o.label = labels[(b0 >> 4) & 3];
	s->o.numeric_label = (b0 >> 6) & 1;
	s->o.csv.delim = (b1 & 4) ? ';' : ',';
	if (b0 & 0x80) {
		s->schema.nfeat = 3;
		s->schema.names = (b1 & 2) ? names_259 : names_123;
		s->schema.label = s->o.label ? (char *)s->o.label : "";
		dml_schema_fingerprint(&s->schema);
		s->classes.n = 3;
		s->classes.names = classes_svm;
		s->classes.counts = counts_zero;
		s->o.schema = &s->schema;
		if (!s->o.numeric_label)
			s->o.classes = &s->classes;
	}
}

/* The bytes through a pipe (they fit in its buffer). */
static int pipe_with(const void *p, size_t n)
{
	int fds[2];
	if (n > 60000 || pipe(fds) != 0)
		return -1;
	if (n && write(fds[1], p, n) != (ssize_t)n) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	close(fds[1]);
	return fds[0];
}

static int same_error(const struct dml_error *a, const struct dml_error *b)
{
	return a->code == b->code && a->line == b->line &&
	       a->column == b->column && !strcmp(a->detail, b->detail);
}

static void same_rows(const struct dml_data *a, const struct dml_data *b)
{
	CHECK(a->n == b->n);
	CHECK(a->schema.nfeat == b->schema.nfeat);
	CHECK(a->schema.fingerprint == b->schema.fingerprint);
	CHECK(a->has_label == b->has_label);
	if (a->n)
		CHECK(!memcmp(a->x, b->x, (size_t)a->n * a->schema.nfeat *
			      sizeof *a->x));
	for (uint64_t r = 0; a->has_label && r < a->n; r++) {
		if (a->labels.n || b->labels.n)
			CHECK(!strcmp(a->labels.s[a->y[r]],
				      b->labels.s[b->y[r]]));
		else
			CHECK(a->y[r] == b->y[r]);
	}
}

static void put_csv_field(struct dml_buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char *p = dml_buf_reserve(b, 2 * n + 2);
	CHECK(p);
	size_t k = 0;
	p[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			p[k++] = '"';
		p[k++] = (unsigned char)s[i];
	}
	p[k++] = '"';
	b->len -= 2 * n + 2 - k;
}

static void put_text(struct dml_buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char *p = dml_buf_reserve(b, n);
	CHECK(p || !n);
	if (n)
		memcpy(p, s, n);
}

/* What loaded as svmlight, written as dense CSV, loads the same. */
static void check_csv(const struct dml_data *d, const struct svm_setup *s)
{
	uint32_t nf = d->schema.nfeat;
	/* no column at all has no CSV */
	if ((uint64_t)d->n * (nf + 1) > 20000 || (nf == 0 && !d->has_label))
		return;
	struct dml_buf b = {0};
	char num[40];
	int first = 1;
	if (d->has_label) {
		put_csv_field(&b, d->schema.label);
		first = 0;
	}
	for (uint32_t f = 0; f < nf; f++) {
		if (!first)
			put_text(&b, ",");
		first = 0;
		put_csv_field(&b, d->schema.names[f]);
	}
	put_text(&b, "\n");
	for (uint64_t r = 0; r < d->n; r++) {
		first = 1;
		if (d->has_label) {
			const char *l = s->o.classes
					? s->classes.names[d->y[r]]
					: d->labels.s[d->y[r]];
			put_csv_field(&b, l);
			first = 0;
		}
		for (uint32_t f = 0; f < nf; f++) {
			if (!first)
				put_text(&b, ",");
			first = 0;
			snprintf(num, sizeof num, "%.17g", d->x[r * nf + f]);
			put_text(&b, num);
		}
		put_text(&b, "\n");
	}
	struct dml_load_opts co = s->o;
	co.input_format = DML_INPUT_CSV;
	co.csv.delim = ',';
	co.features = 0;
	struct dml_data d2;
	struct dml_error err = {0};
	enum dml_err rc = load(&d2, &co, b.p, b.len, 0, &err);
	if (rc)
		fprintf(stderr, "fuzz: the CSV of what loaded does not load: "
			"line %llu column %llu: %s\n",
			(unsigned long long)err.line,
			(unsigned long long)err.column, err.detail);
	CHECK(rc == DML_OK);
	CHECK(d2.n == d->n);
	CHECK(d2.schema.nfeat == nf);
	CHECK(d2.schema.fingerprint == d->schema.fingerprint);
	if (d->n)
		CHECK(!memcmp(d2.x, d->x, (size_t)d->n * nf * sizeof *d->x));
	CHECK(d2.has_label == d->has_label);
	for (uint64_t r = 0; d->has_label && r < d->n; r++) {
		if (s->o.classes)
			CHECK(d2.y[r] == d->y[r]);
		else
			CHECK(!strcmp(d2.labels.s[d2.y[r]],
				      d->labels.s[d->y[r]]));
	}
	dml_data_free(&d2);
	dml_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct svm_setup s;
	svm_opts(&s, data[0], data[1]);
	const uint8_t *p = data + 2;
	size_t n = size - 2;
	size_t split = (data[1] & 1) ? n * (data[1] >> 4) / 16 : 0;
	struct dml_data d;
	struct dml_error err = {0};
	enum dml_err rc = load(&d, &s.o, p, n, split, &err);
	char msg[1100];
	dml_error_format(&err, "input", msg, sizeof msg);
	/* a pipe: the same rows, or the same error */
	int fd = split ? -1 : pipe_with(p, n);
	if (fd >= 0) {
		struct dml_data dp;
		struct dml_error ep = {0};
		dml_data_init(&dp);
		enum dml_err rp = dml_data_load(&dp, fd, &s.o, &ep);
		close(fd);
		if (rp != rc || !same_error(&err, &ep))
			fprintf(stderr, "fuzz: file: %d %llu:%llu '%s'; pipe: "
				"%d %llu:%llu '%s'\n", rc,
				(unsigned long long)err.line,
				(unsigned long long)err.column, err.detail,
				rp, (unsigned long long)ep.line,
				(unsigned long long)ep.column, ep.detail);
		CHECK(rp == rc);
		CHECK(same_error(&err, &ep));
		if (rc == DML_OK)
			same_rows(&d, &dp);
		dml_data_free(&dp);
	}
	if (rc == DML_OK) {
		CHECK(d.schema.label != NULL);
		if (s.o.schema)
			CHECK(d.schema.nfeat == s.schema.nfeat);

		for (uint64_t r = 0; r < d.n; r++) {
			if (d.has_label && !s.o.classes)
				CHECK(d.y[r] < d.labels.n);
			if (d.has_label && s.o.classes)
				CHECK(d.y[r] < s.classes.n);
			for (uint32_t f = 0; f < d.schema.nfeat; f++)
				CHECK(isfinite(d.x[r * d.schema.nfeat + f]));
		}
		int svm = n && memcmp(p, DML_MAGIC, n < DML_MAGIC_LEN ? n
						   : DML_MAGIC_LEN) &&
			  (s.o.input_format == DML_INPUT_SVMLIGHT ||
			   dml_svm_sniff((const char *)p, n, s.o.csv.delim,
					 n < DML_SNIFF_BYTES ? 1 : 2) == 1);
		if (svm && !split && s.o.features && !s.o.schema)
			CHECK(d.schema.nfeat == s.o.features);
		if (svm && !split)
			check_csv(&d, &s);
		check_stats(&d, &s.o);
		check_blocks(&d, &s.o);
	}
	dml_data_free(&d);
	return 0;
}
