/* svmread.c - svmlight / libsvm sparse text: lines of a label and
 * INDEX:VALUE pairs, read through one buffer that is reused (and grown
 * only for a longer line), handed on a row at a time as lines complete. */
#include "svmread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "numeric.h"

#define READ_SIZE (1u << 20)

struct reader {
	uint32_t limit;
	const char *why;
	dml_svm_fn fn;
	void *ctx;
	struct dml_error *err;
	uint32_t *idx;
	double *val;
	uint64_t *col;
	size_t cap;
	char *label;
	size_t lcap;
	uint64_t rows;
};

static int blank(char c) { return c == ' ' || c == '\t'; }

/* The place of an error whose detail is set. */
static enum dml_err at(struct reader *r, uint64_t line, uint64_t col,
		       enum dml_err code)
{
	if (r->err) {
		r->err->line = line;
		r->err->column = col;
	}
	return code;
}

static enum dml_err bad(struct reader *r, uint64_t line, uint64_t col,
			enum dml_err code, const char *fmt, const char *tok)
	__attribute__((format(printf, 5, 0)));

/* fmt is a literal with one %s (or %.40s), for tok. */
static enum dml_err bad(struct reader *r, uint64_t line, uint64_t col,
			enum dml_err code, const char *fmt, const char *tok)
{
	dml_fail(r->err, code, fmt, tok);
	return at(r, line, col, code);
}

static int all_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static enum dml_err grow_pairs(struct reader *r)
{
	size_t cap = r->cap ? 2 * r->cap : 64;
	uint32_t *idx = realloc(r->idx, cap * sizeof *idx);
	if (idx)
		r->idx = idx;
	double *val = realloc(r->val, cap * sizeof *val);
	if (val)
		r->val = val;
	uint64_t *col = realloc(r->col, cap * sizeof *col);
	if (col)
		r->col = col;
	if (!idx || !val || !col)
		return dml_fail(r->err, DML_ENOMEM, NULL);
	r->cap = cap;
	return DML_OK;
}

/* One INDEX:VALUE token t (NUL-terminated, len bytes) at column c. */
static enum dml_err pair(struct reader *r, char *t, size_t len,
			 uint64_t line, uint64_t c, uint32_t prev,
			 size_t *n)
{
	/* the common case: a short index within the limit, then a number */
	uint64_t k = 0;
	const char *q = t;
	while (*q >= '0' && *q <= '9' && q - t < 10)
		k = k * 10 + (uint64_t)(*q++ - '0');
	if (*q == ':' && q > t && k > prev && k <= r->limit) {
		if (*n == r->cap && grow_pairs(r))
			return DML_ENOMEM;
		if (dml_parse_double(q + 1, &r->val[*n]) == 0) {
			r->idx[*n] = (uint32_t)k;
			r->col[*n] = c;
			(*n)++;
			return DML_OK;
		}
	}
	char *colon = memchr(t, ':', len);
	if (!colon)
		return bad(r, line, c, DML_ENUMBER,
			   "expected INDEX:VALUE, found '%.40s'", t);
	size_t ilen = (size_t)(colon - t);
	const char *v = colon + 1;
	if (ilen == 3 && !memcmp(t, "qid", 3)) {
		if (!all_digits(v, strlen(v)))
			return bad(r, line, c, DML_ENUMBER,
				   "qid is not a number: '%.40s'", v);
		return DML_OK;
	}
	if (ilen == 0)
		return bad(r, line, c, DML_ENUMBER,
			   "missing feature index: '%.40s'", t);
	if (!all_digits(t, ilen))
		return bad(r, line, c, DML_ENUMBER,
			   "feature index is not a number: '%.40s'", t);
	k = 0;
	for (size_t i = 0; i < ilen && k <= r->limit; i++)
		k = k * 10 + (uint64_t)(t[i] - '0');
	if (k == 0)
		return bad(r, line, c, DML_ENUMBER,
			   "feature index 0 (indices start at 1): '%.40s'", t);
	if (k > r->limit) {
		dml_fail(r->err, DML_ERANGE, "feature index %.*s%s is beyond %s",
			 (int)(ilen > 20 ? 20 : ilen), t, ilen > 20 ? "..." : "",
			 r->why);
		return at(r, line, c, DML_ERANGE);
	}
	if (k <= prev) {
		dml_fail(r->err, DML_ENUMBER, "feature index %llu after %lu "
			 "(indices must increase)", (unsigned long long)k,
			 (unsigned long)prev);
		return at(r, line, c, DML_ENUMBER);
	}
	if (*n == r->cap) {
		enum dml_err rc = grow_pairs(r);
		if (rc)
			return rc;
	}
	int prc = dml_parse_double(v, &r->val[*n]);
	if (prc == -3)
		return bad(r, line, c, DML_ENUMBER, "empty value: '%.40s'", t);
	if (prc == -2)
		return bad(r, line, c, DML_ENUMBER,
			   "not a finite number: '%.40s'", v);
	if (prc)
		return bad(r, line, c, DML_ENUMBER, "not a number: '%.40s'",
			   v);
	r->idx[*n] = (uint32_t)k;
	r->col[*n] = c;
	(*n)++;
	return DML_OK;
}

/* Line number line: p[0..len) without its LF, with room for a NUL at
 * p[len]; skip bytes at its start (a byte-order mark).  Tokens are cut in
 * place and mended, so that the row's text is the line as read. */
static enum dml_err one_line(struct reader *r, char *p, size_t len,
			     uint64_t line, size_t skip)
{
	if (len && p[len - 1] == '\r')
		len--;
	char *nul = memchr(p, '\0', len);
	if (nul) {
		dml_fail(r->err, DML_ENUMBER, "NUL byte");
		return at(r, line, (uint64_t)(nul - p) + 1, DML_ENUMBER);
	}
	char *hash = memchr(p + skip, '#', len - skip);
	size_t end = hash ? (size_t)(hash - p) : len;
	size_t i = skip;
	while (i < end && blank(p[i]))
		i++;
	if (i == end)
		return DML_OK; /* blank, or a comment */
	size_t t = i;
	while (i < end && !blank(p[i]))
		i++;
	size_t llen = i - t;
	if (memchr(p + t, ':', llen)) {
		char c = p[i];
		p[i] = '\0';
		enum dml_err rc = bad(r, line, t + 1, DML_ENUMBER,
				      "expected a label, found '%.40s'",
				      p + t);
		p[i] = c;
		return rc;
	}
	if (llen > DML_MAX_STRING) {
		dml_fail(r->err, DML_ETOOBIG, "label longer than %lu bytes",
			 (unsigned long)DML_MAX_STRING);
		return at(r, line, t + 1, DML_ETOOBIG);
	}
	if (llen + 1 > r->lcap) {
		char *l = realloc(r->label, llen + 1);
		if (!l)
			return dml_fail(r->err, DML_ENOMEM, NULL);
		r->label = l;
		r->lcap = llen + 1;
	}
	memcpy(r->label, p + t, llen);
	r->label[llen] = '\0';
	enum dml_err rc = DML_OK;
	size_t n = 0;
	uint32_t prev = 0;
	char save = p[len];
	while (!rc) {
		while (i < end && blank(p[i]))
			i++;
		if (i >= end)
			break;
		size_t s = i;
		while (i < end && !blank(p[i]))
			i++;
		char c = p[i];
		p[i] = '\0';
		size_t before = n;
		rc = pair(r, p + s, i - s, line, s + 1, prev, &n);
		if (!rc && n > before)
			prev = r->idx[n - 1];
		p[i] = c;
	}
	p[len] = save;
	if (rc)
		return rc;
	struct dml_svm_row row = {
		.label = r->label, .label_col = t + 1, .n = n,
		.idx = r->idx, .val = r->val, .col = r->col,
		.text = p + skip, .len = len - skip,
	};
	r->rows++;
	rc = r->fn(r->ctx, &row, line, r->err);
	if (rc && r->err && !r->err->line)
		r->err->line = line;
	return rc;
}

enum dml_err dml_svm_read(struct dml_src *src, uint32_t limit,
			  const char *why, dml_svm_fn fn, void *ctx,
			  struct dml_error *err)
{
	struct reader r = {
		.limit = limit, .why = why, .fn = fn, .ctx = ctx, .err = err,
	};
	size_t cap = READ_SIZE, have = 0, skip = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return dml_fail(err, DML_ENOMEM, NULL);
	enum dml_err rc = DML_OK;
	uint64_t line = 1, total = 0;
	int eof = 0, bom_known = 0;
	while (!rc && !eof) {
		if (have == cap) { /* a line longer than the buffer */
			char *b = cap <= SIZE_MAX / 4 ? realloc(buf, 2 * cap + 1)
						      : NULL;
			if (!b) {
				rc = dml_fail(err, DML_ENOMEM, NULL);
				break;
			}
			buf = b;
			cap *= 2;
		}
		long long got = dml_src_read_some(src, buf + have, cap - have);
		if (got < 0) {
			rc = dml_fail(err, DML_EIO, "%s", strerror(errno));
			break;
		}
		have += (size_t)got;
		total += (uint64_t)got;
		eof = got == 0;
		if (!bom_known) { /* a UTF-8 byte-order mark */
			if (have < 3 && !eof)
				continue;
			skip = have >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)
			       ? 3 : 0;
			bom_known = 1;
		}
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl)
				break;
			size_t len = (size_t)(nl - buf) - start;
			rc = one_line(&r, buf + start, len, line,
				      line == 1 ? skip : 0);
			start += len + 1;
			if (rc)
				break;
			line++;
		}
		if (!rc && eof && start < have) {
			rc = one_line(&r, buf + start, have - start, line,
				      line == 1 ? skip : 0);
			start = have;
		}
		if (start) {
			memmove(buf, buf + start, have - start);
			have -= start;
		}
	}
	if (!rc && r.rows == 0)
		rc = dml_fail(err, DML_EEMPTY, total ? "no rows" : NULL);
	free(buf);
	free(r.idx);
	free(r.val);
	free(r.col);
	free(r.label);
	return rc;
}

/* ---- telling svmlight from CSV ---- */

/* Is token t (n bytes) INDEX:VALUE or qid:N?  2 for an index, 1 qid. */
static int pair_token(const char *t, size_t n)
{
	const char *colon = memchr(t, ':', n);
	if (!colon)
		return 0;
	size_t ilen = (size_t)(colon - t);
	if (ilen == 3 && !memcmp(t, "qid", 3))
		return 1;
	return all_digits(t, ilen) ? 2 : 0;
}

int dml_svm_sniff(const char *p, size_t n, unsigned char delim, int final)
{
	if (!delim)
		delim = ',';
	size_t i = n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3) ? 3 : 0;
	if (i == 0 && n < 3 && final != 1 && !memcmp(p, "\xEF\xBB\xBF", n))
		return -1; /* a byte-order mark may be coming */
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n;
		int more = !nl && final != 1; /* the line goes on */
		if (!more && end > i && p[end - 1] == '\r')
			end--; /* as the reader strips it */
		size_t j = i;
		while (j < end && blank(p[j]))
			j++;
		if (j == end || p[j] == '#') {
			if (more)
				return final ? 0 : -1;
			i = nl ? (size_t)(nl - p) + 1 : n;
			continue;
		}
		/* the first line of data */
		const char *hash = memchr(p + j, '#', end - j);
		if (hash) {
			end = (size_t)(hash - p);
			more = 0;
		}
		if (memchr(p + j, delim, end - j))
			return 0;
		int tokens = 0, pairs = 0;
		while (j < end) {
			size_t s = j;
			while (j < end && !blank(p[j]))
				j++;
			if (more && j == end)
				break; /* may go on beyond what is here */
			int kind = pair_token(p + s, j - s);
			if (tokens == 0 ? memchr(p + s, ':', j - s) != NULL
					: kind == 0)
				return 0;
			pairs += kind != 0;
			tokens++;
			while (j < end && blank(p[j]))
				j++;
		}
		if (more && !final)
			return -1;
		return pairs > 0;
	}
	return final ? 0 : -1;
}

int dml_svm_detect(struct dml_src *src, int format, unsigned char delim,
		   unsigned char **buf)
{
	if (format == DML_INPUT_CSV)
		return 0;
	if (format == DML_INPUT_SVMLIGHT)
		return 1;
	struct stat st;
	off_t off;
	if (!*buf && !(*buf = malloc(DML_SNIFF_BYTES))) {
		errno = ENOMEM;
		return -1;
	}
	char *b = (char *)*buf;
	size_t have = 0;
	if (fstat(src->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    src->nback == 0 &&
	    (off = lseek(src->fd, 0, SEEK_CUR)) >= (off_t)(src->npre -
							  src->pos)) {
		/* peek without moving the file offset */
		off -= (off_t)(src->npre - src->pos);
		while (have < DML_SNIFF_BYTES) {
			ssize_t got = pread(src->fd, b + have,
					    DML_SNIFF_BYTES - have,
					    off + (off_t)have);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return -1;
			if (got == 0)
				break;
			have += (size_t)got;
		}
		return dml_svm_sniff(b, have, delim,
				     have < DML_SNIFF_BYTES ? 1 : 2) == 1;
	}
	/* a pipe: read until the first line of data is whole, then hand
	 * the bytes back */
	int r = -1;
	while (r < 0 && have < DML_SNIFF_BYTES) {
		long long got = dml_src_read_some(src, b + have,
						  DML_SNIFF_BYTES - have);
		if (got < 0)
			return -1;
		have += (size_t)got;
		r = dml_svm_sniff(b, have, delim, got == 0 ? 1
				  : have == DML_SNIFF_BYTES ? 2 : 0);
	}
	src->back = *buf;
	src->nback = have;
	src->backpos = 0;
	return r == 1;
}

/* ---- features named by index ---- */

/* The index that s names ("1", "2"... no sign, no leading zero), or 0. */
static uint32_t index_name(const char *s)
{
	uint64_t k = 0;
	if (*s < '1' || *s > '9')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		k = k * 10 + (uint64_t)(*s - '0');
		if (k > DML_SVM_MAX_FEATURES)
			return 0;
	}
	return (uint32_t)k;
}

enum dml_err dml_svm_map(const struct dml_schema *s, const char *whose,
			 int64_t **map, uint32_t *nmap, struct dml_error *err)
{
	*map = NULL;
	*nmap = s->nfeat;
	uint32_t max = 0, ident = 1;
	for (uint32_t f = 0; f < s->nfeat; f++) {
		uint32_t k = index_name(s->names[f]);
		if (!k)
			return dml_fail(err, DML_ENOCOLUMN, "feature '%.40s' "
					"of %s is not an svmlight index (the "
					"features of svmlight input are "
					"named 1, 2, ...)", s->names[f],
					whose);
		ident &= k == f + 1;
		if (k > max)
			max = k;
	}
	if (ident)
		return DML_OK;
	int64_t *m = malloc(((size_t)max + 1) * sizeof *m);
	if (!m)
		return dml_fail(err, DML_ENOMEM, NULL);
	for (uint32_t k = 0; k <= max; k++)
		m[k] = -1;
	for (uint32_t f = 0; f < s->nfeat; f++)
		m[index_name(s->names[f])] = f;
	*map = m;
	*nmap = max;
	return DML_OK;
}

/* ---- into a data set ---- */

struct load {
	struct dml_data *d;
	const struct dml_load_opts *o;
	uint32_t nf;      /* features so far */
	uint32_t stride;  /* values per row in d->x while loading */
	uint32_t limit;   /* the largest index allowed */
	int grow;         /* nf follows the largest index seen */
	int64_t *map;     /* index -> feature; NULL: index - 1 */
	uint32_t nmap;
};

/* Rows of stride values become rows of at least need (room to grow). */
static enum dml_err widen(struct load *l, uint32_t need,
			  struct dml_error *err)
{
	struct dml_data *d = l->d;
	/* by a quarter at least, so that rows are moved a few times only,
	 * and by little more, since rows are often about as wide as the
	 * first ones */
	uint64_t ns = (uint64_t)l->stride + l->stride / 4;
	if (ns < need)
		ns = need;
	if (ns < 16)
		ns = 16;
	if (ns > l->limit)
		ns = l->limit;
	if (d->cap) {
		if (d->cap > SIZE_MAX / sizeof(double) / ns)
			return dml_fail(err, DML_ENOMEM, NULL);
		double *x = dml_rows_realloc(d->x, (size_t)(d->cap * ns) *
						       sizeof *x);
		if (!x)
			return dml_fail(err, DML_ENOMEM, NULL);
		d->x = x;
		for (uint64_t i = d->n - d->base; i-- > 0;) {
			memmove(x + i * ns, x + i * l->stride,
				(size_t)l->stride * sizeof *x);
			memset(x + i * ns + l->stride, 0,
			       (size_t)(ns - l->stride) * sizeof *x);
		}
	}
	l->stride = (uint32_t)ns;
	return DML_OK;
}

static enum dml_err add_row(void *ctx, const struct dml_svm_row *r,
			    uint64_t line, struct dml_error *err)
{
	(void)line;
	struct load *l = ctx;
	struct dml_data *d = l->d;
	const struct dml_load_opts *o = l->o;
	enum dml_err rc;
	uint32_t top = r->n ? r->idx[r->n - 1] : 0;
	for (size_t i = 0; l->map && i < r->n; i++)
		if (r->idx[i] > l->nmap || l->map[r->idx[i]] < 0) {
			err->column = r->col[i];
			return dml_fail(err, DML_ENOCOLUMN, "feature index %lu "
					"is not one of the model's features",
					(unsigned long)r->idx[i]);
		}
	if (!l->map && top > l->nf) {
		if (!l->grow) /* the reader's limit keeps this from happening */
			return dml_fail(err, DML_ERANGE, "feature index %lu "
					"beyond %lu features",
					(unsigned long)top,
					(unsigned long)l->nf);
		if (top > l->stride && (rc = widen(l, top, err)))
			return rc;
		l->nf = top;
	}
	uint32_t stride = l->stride;
	uint64_t at = d->n - d->base; /* rows held (see rows_fn) */
	if ((rc = dml_data_room(d, stride, 0, err)))
		return rc;
	double *x = d->x + at * stride;
	memset(x, 0, (size_t)stride * sizeof *x);
	for (size_t i = 0; i < r->n; i++)
		x[l->map ? l->map[r->idx[i]] : (int64_t)r->idx[i] - 1] =
			r->val[i];
	uint32_t id = 0;
	if (o->label) {
		double v;
		if (o->numeric_label && dml_parse_double(r->label, &v)) {
			err->column = r->label_col;
			return dml_fail(err, DML_ENUMBER, "target '%.40s' is "
					"not a finite number", r->label);
		}
		if (o->classes) {
			int64_t k = dml_labels_find(o->classes, r->label);
			if (k < 0) {
				err->column = r->label_col;
				return dml_fail(err, DML_ELABELS, "label "
						"'%.40s' is not one of the "
						"model's classes", r->label);
			}
			id = (uint32_t)k;
		} else if ((id = dml_strtab_intern(&d->labels, r->label)) ==
			   UINT32_MAX) {
			return dml_fail(err, DML_ENOMEM, NULL);
		}
	}
	d->y[at] = id;
	d->n++;
	return DML_OK;
}

/* d's schema: features "1".."nf" (those it has are kept). */
static enum dml_err index_schema(struct dml_schema *s, uint32_t nf,
				 const char *label)
{
	char **names = realloc(s->names, ((size_t)nf + 1) * sizeof *names);
	if (!names)
		return DML_ENOMEM;
	s->names = names;
	if (!s->label && !(s->label = strdup(label)))
		return DML_ENOMEM;
	for (; s->nfeat < nf; s->nfeat++) {
		char buf[16];
		snprintf(buf, sizeof buf, "%lu", (unsigned long)s->nfeat + 1);
		if (!(names[s->nfeat] = strdup(buf)))
			return DML_ENOMEM;
	}
	dml_schema_fingerprint(s);
	return DML_OK;
}

enum dml_err dml_svm_load(struct dml_data *d, struct dml_src *src,
			  const struct dml_load_opts *o,
			  struct dml_error *err)
{
	struct load l = { .d = d, .o = o };
	const struct dml_schema *want = o->schema ? o->schema
				      : d->files ? &d->schema : NULL;
	char why[96];
	enum dml_err rc;
	if (o->schema && o->features && o->features != o->schema->nfeat)
		return dml_fail(err, DML_ESCHEMA, "--features %lu, but the "
				"model has %lu features",
				(unsigned long)o->features,
				(unsigned long)o->schema->nfeat);
	if (want) {
		rc = dml_svm_map(want, o->schema ? "the model"
						 : "the first input",
				 &l.map, &l.nmap, err);
		if (rc)
			return rc;
		l.nf = l.stride = want->nfeat;
		/* only svmlight inputs before this one: their columns are
		 * indices, which may go on */
		l.grow = !o->schema && !o->features && !l.map &&
			 d->columns_grow;
		l.limit = l.grow ? DML_SVM_MAX_FEATURES : l.nmap;
		if (l.grow)
			snprintf(why, sizeof why, "the limit of %lu features",
				 (unsigned long)l.limit);
		else if (o->features)
			snprintf(why, sizeof why, "--features %lu",
				 (unsigned long)o->features);
		else if (l.map)
			snprintf(why, sizeof why, "the largest index of %s, "
				 "%lu", o->schema ? "the model"
				 : "the first input", (unsigned long)l.nmap);
		else if (o->schema)
			snprintf(why, sizeof why, "the model's %lu features",
				 (unsigned long)l.nf);
		else
			snprintf(why, sizeof why, "the %lu features of the "
				 "first input", (unsigned long)l.nf);
	} else if (o->features) {
		l.nf = l.stride = l.limit = o->features;
		snprintf(why, sizeof why, "--features %lu",
			 (unsigned long)o->features);
	} else {
		l.grow = 1;
		l.limit = DML_SVM_MAX_FEATURES;
		snprintf(why, sizeof why, "the limit of %lu features",
			 (unsigned long)l.limit);
	}
	if (d->base > 0 && l.grow) {
		/* rows of the columns so far are handed on (streaming): no
		 * more columns can come */
		l.grow = 0;
		l.limit = l.nf;
		snprintf(why, sizeof why, "the %lu features of the first "
			 "input", (unsigned long)l.nf);
	}
	d->has_label = o->label != NULL;
	/* streaming: rows are handed on by dml_data_flush at the end, when
	 * the columns are known */
	rc = dml_svm_read(src, l.limit, why, add_row, &l, err);
	free(l.map);
	if (rc)
		return rc;
	if (l.stride != l.nf) { /* rows of nf values, one after another */
		for (uint64_t i = 1; i < d->n - d->base; i++)
			memmove(d->x + i * l.nf, d->x + i * l.stride,
				(size_t)l.nf * sizeof *d->x);
		double *x = dml_rows_realloc(d->x, (size_t)(d->cap * l.nf) *
						       sizeof *x);
		if (x)
			d->x = x;
	}
	d->columns_grow = l.grow || (d->files == 0 && !o->schema &&
				     !o->features);
	if (d->files == 0 && o->schema)
		rc = dml_schema_copy(&d->schema, o->schema);
	else if (d->files == 0 || l.nf > d->schema.nfeat)
		rc = index_schema(&d->schema, l.nf, o->label ? o->label : "");
	if (rc)
		return dml_fail(err, rc, NULL);
	return DML_OK;
}
