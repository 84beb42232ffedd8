/* data.c - schemas, labels, and loading CSV into memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap */
#endif
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"
#include "threads.h"
#include "svmread.h"

/* ---- interned strings ---- */

static uint32_t str_hash(const char *s)
{
	return (uint32_t)dml_hash(s, strlen(s), DML_HASH_SEED);
}

void dml_strtab_free(struct dml_strtab *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->slot);
	memset(t, 0, sizeof *t);
}

uint32_t dml_strtab_find(const struct dml_strtab *t, const char *s)
{
	if (!t->nslot)
		return UINT32_MAX;
	uint32_t h = str_hash(s) & (t->nslot - 1);
	while (t->slot[h]) {
		uint32_t id = t->slot[h] - 1;
		if (strcmp(t->s[id], s) == 0)
			return id;
		h = (h + 1) & (t->nslot - 1);
	}
	return UINT32_MAX;
}

static int rehash(struct dml_strtab *t, uint32_t nslot)
{
	uint32_t *slot = calloc(nslot, sizeof *slot);
	if (!slot)
		return -1;
	for (uint32_t id = 0; id < t->n; id++) {
		uint32_t h = str_hash(t->s[id]) & (nslot - 1);
		while (slot[h])
			h = (h + 1) & (nslot - 1);
		slot[h] = id + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

uint32_t dml_strtab_intern(struct dml_strtab *t, const char *s)
{
	uint32_t id = dml_strtab_find(t, s);
	if (id != UINT32_MAX)
		return id;
	if (t->n >= UINT32_MAX / 4)
		return UINT32_MAX;
	if ((t->n + 1) * 2 > t->nslot &&
	    rehash(t, t->nslot ? t->nslot * 2 : 16))
		return UINT32_MAX;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		char **a = realloc(t->s, cap * sizeof *a);
		if (!a)
			return UINT32_MAX;
		t->s = a;
		t->cap = cap;
	}
	char *copy = strdup(s);
	if (!copy)
		return UINT32_MAX;
	id = t->n++;
	t->s[id] = copy;
	uint32_t h = str_hash(s) & (t->nslot - 1);
	while (t->slot[h])
		h = (h + 1) & (t->nslot - 1);
	t->slot[h] = id + 1;
	return id;
}

/* ---- schema ---- */

void dml_schema_free(struct dml_schema *s)
{
	if (s->names)
		for (uint32_t i = 0; i < s->nfeat; i++)
			free(s->names[i]);
	free(s->names);
	free(s->label);
	memset(s, 0, sizeof *s);
}

enum dml_err dml_schema_copy(struct dml_schema *dst,
			     const struct dml_schema *src)
{
	memset(dst, 0, sizeof *dst);
	dst->names = calloc(src->nfeat ? src->nfeat : 1, sizeof *dst->names);
	dst->label = strdup(src->label ? src->label : "");
	if (!dst->names || !dst->label) {
		dml_schema_free(dst);
		return DML_ENOMEM;
	}
	dst->nfeat = src->nfeat;
	for (uint32_t i = 0; i < src->nfeat; i++)
		if (!(dst->names[i] = strdup(src->names[i]))) {
			dml_schema_free(dst);
			return DML_ENOMEM;
		}
	dst->fingerprint = src->fingerprint;
	return DML_OK;
}

void dml_schema_fingerprint(struct dml_schema *s)
{
	struct dml_hash h;
	unsigned char n[4];
	dml_put32(n, s->nfeat);
	dml_hash_init(&h, DML_HASH_SEED);
	dml_hash_update(&h, n, 4);
	for (uint32_t i = 0; i < s->nfeat; i++)
		dml_hash_update(&h, s->names[i], strlen(s->names[i]) + 1);
	dml_hash_update(&h, s->label, strlen(s->label) + 1);
	s->fingerprint = dml_hash_final(&h);
}

void dml_schema_write(struct dml_buf *b, const struct dml_schema *s)
{
	dml_buf_section(b, DML_SEC_SCHEMA, 0);
	dml_buf_u32(b, s->nfeat);
	dml_buf_str(b, s->label);
	for (uint32_t i = 0; i < s->nfeat; i++)
		dml_buf_str(b, s->names[i]);
	dml_buf_end(b);
}

enum dml_err dml_schema_map(const struct dml_schema *have,
			    const struct dml_schema *want, int64_t *map,
			    struct dml_error *err)
{
	struct dml_strtab t = {0};
	for (uint32_t j = 0; j < have->nfeat; j++)
		if (dml_strtab_intern(&t, have->names[j]) == UINT32_MAX) {
			dml_strtab_free(&t);
			return dml_fail(err, DML_ENOMEM, NULL);
		}
	if (t.n != have->nfeat) {
		dml_strtab_free(&t);
		return dml_fail(err, DML_EFORMAT, "duplicate feature names");
	}
	enum dml_err rc = DML_OK;
	for (uint32_t f = 0; !rc && f < want->nfeat; f++) {
		/* names are unique, so interned ids are column indices */
		uint32_t id = dml_strtab_find(&t, want->names[f]);
		map[f] = id == UINT32_MAX ? -1 : (int64_t)id;
		if (map[f] < 0)
			rc = dml_fail(err, DML_ENOCOLUMN,
				      "column '%s' not found (the model needs "
				      "%u features)",
				      want->names[f], want->nfeat);
	}
	dml_strtab_free(&t);
	return rc;
}

static char *cur_strdup(struct dml_cur *c)
{
	uint32_t len;
	const char *p = dml_cur_str(c, &len);
	if (!p)
		return NULL;
	if (memchr(p, '\0', len)) {
		c->bad = 1;
		return NULL;
	}
	char *s = malloc((size_t)len + 1);
	if (!s)
		return NULL;
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

enum dml_err dml_schema_read(const struct dml_record *rec,
			     struct dml_schema *s, struct dml_error *err)
{
	struct dml_section sec;
	memset(s, 0, sizeof *s);
	if (!dml_record_find(rec, DML_SEC_SCHEMA, &sec))
		return dml_fail(err, DML_EFORMAT, "no schema section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	uint32_t n = dml_cur_u32(&c);
	if (n > c.left / 4)
		return dml_fail(err, DML_ETOOBIG,
				"schema claims %u features in %llu bytes", n,
				(unsigned long long)sec.len);
	s->label = cur_strdup(&c);
	s->names = calloc(n ? n : 1, sizeof *s->names);
	if (!s->names || (!s->label && !c.bad)) {
		dml_schema_free(s);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	s->nfeat = n;
	for (uint32_t i = 0; i < n && !c.bad; i++)
		if (!(s->names[i] = cur_strdup(&c)) && !c.bad) {
			dml_schema_free(s);
			return dml_fail(err, DML_ENOMEM, NULL);
		}
	if (c.bad || c.left) {
		dml_schema_free(s);
		return dml_fail(err, DML_EFORMAT, "malformed schema section");
	}
	struct dml_strtab names = {0};
	for (uint32_t i = 0; i < n; i++) {
		uint32_t before = names.n;
		if (dml_strtab_intern(&names, s->names[i]) == UINT32_MAX) {
			dml_strtab_free(&names);
			dml_schema_free(s);
			return dml_fail(err, DML_ENOMEM, NULL);
		}
		if (names.n == before) {
			enum dml_err rc = dml_fail(err, DML_EFORMAT,
						   "duplicate feature name "
						   "'%.40s'", s->names[i]);
			dml_strtab_free(&names);
			dml_schema_free(s);
			return rc;
		}
	}
	dml_strtab_free(&names);
	dml_schema_fingerprint(s);
	if (s->fingerprint != rec->h.schema) {
		dml_schema_free(s);
		return dml_fail(err, DML_EFORMAT,
				"schema does not match its fingerprint");
	}
	return DML_OK;
}

/* ---- labels ---- */

void dml_labels_free(struct dml_labels *l)
{
	if (l->names)
		for (uint32_t i = 0; i < l->n; i++)
			free(l->names[i]);
	free(l->names);
	free(l->counts);
	memset(l, 0, sizeof *l);
}

static int all_numeric(const struct dml_labels *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		double v;
		if (dml_parse_double(l->names[i], &v))
			return 0;
	}
	return 1;
}

static int label_cmp(const char *a, const char *b, int numeric)
{
	if (numeric) {
		double x, y;
		dml_parse_double(a, &x);
		dml_parse_double(b, &y);
		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	return strcmp(a, b);
}

static int labels_numeric(const struct dml_labels *l)
{
	return all_numeric(l);
}

void dml_labels_sort(struct dml_labels *l)
{
	int numeric = labels_numeric(l);
	/* insertion sort: label sets are small */
	for (uint32_t i = 1; i < l->n; i++) {
		char *name = l->names[i];
		uint64_t count = l->counts ? l->counts[i] : 0;
		uint32_t j = i;
		while (j > 0 && label_cmp(l->names[j - 1], name, numeric) > 0) {
			l->names[j] = l->names[j - 1];
			if (l->counts)
				l->counts[j] = l->counts[j - 1];
			j--;
		}
		l->names[j] = name;
		if (l->counts)
			l->counts[j] = count;
	}
}

int64_t dml_labels_find(const struct dml_labels *l, const char *name)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return i;
	/* numeric labels: "1" and "1.0" are the same class */
	double v;
	if (dml_parse_double(name, &v) == 0 && labels_numeric(l))
		for (uint32_t i = 0; i < l->n; i++) {
			double w;
			dml_parse_double(l->names[i], &w);
			if (v == w)
				return i;
		}
	return -1;
}

void dml_labels_write(struct dml_buf *b, const struct dml_labels *l)
{
	dml_buf_section(b, DML_SEC_LABELS, 0);
	dml_buf_u32(b, l->n);
	dml_buf_u32(b, 0);
	for (uint32_t i = 0; i < l->n; i++) {
		dml_buf_u64(b, l->counts ? l->counts[i] : 0);
		dml_buf_str(b, l->names[i]);
	}
	dml_buf_end(b);
}

enum dml_err dml_labels_read(const struct dml_record *rec,
			     struct dml_labels *l, struct dml_error *err)
{
	struct dml_section sec;
	memset(l, 0, sizeof *l);
	if (!dml_record_find(rec, DML_SEC_LABELS, &sec))
		return dml_fail(err, DML_EFORMAT, "no labels section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	uint32_t n = dml_cur_u32(&c);
	if (dml_cur_u32(&c) != 0)
		return dml_fail(err, DML_EFORMAT,
				"reserved field of the labels section is set");
	if (n > c.left / 12)
		return dml_fail(err, DML_ETOOBIG,
				"labels section claims %u labels", n);
	l->names = calloc(n ? n : 1, sizeof *l->names);
	l->counts = calloc(n ? n : 1, sizeof *l->counts);
	if (!l->names || !l->counts) {
		dml_labels_free(l);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	l->n = n;
	for (uint32_t i = 0; i < n && !c.bad; i++) {
		l->counts[i] = dml_cur_u64(&c);
		if (!(l->names[i] = cur_strdup(&c)) && !c.bad) {
			dml_labels_free(l);
			return dml_fail(err, DML_ENOMEM, NULL);
		}
	}
	if (c.bad || c.left) {
		dml_labels_free(l);
		return dml_fail(err, DML_EFORMAT, "malformed labels section");
	}
	return DML_OK;
}

int dml_labels_equal(const struct dml_labels *a, const struct dml_labels *b)
{
	if (a->n != b->n)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]))
			return 0;
	return 1;
}

/* ---- column mapping ---- */

void dml_colmap_free(struct dml_colmap *m)
{
	free(m->feat);
	memset(m, 0, sizeof *m);
	m->label_col = -1;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static char *col_name(char **names, size_t i)
{
	if (names)
		return strdup(names[i]);
	char buf[32];
	snprintf(buf, sizeof buf, "col%zu", i + 1);
	return strdup(buf);
}

enum dml_err dml_colmap_build(struct dml_colmap *m, char **names,
			      size_t ncols, const struct dml_load_opts *o,
			      struct dml_schema *schema, struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	m->label_col = -1;
	m->ncols = ncols;
	m->feat = malloc(ncols * sizeof *m->feat);
	if (!m->feat)
		return dml_fail(err, DML_ENOMEM, NULL);
	for (size_t i = 0; i < ncols; i++)
		m->feat[i] = -1;
	if (o->label) {
		if (names)
			for (size_t i = 0; i < ncols; i++)
				if (strcmp(names[i], o->label) == 0) {
					if (m->label_col >= 0)
						return dml_fail(err,
							DML_ENOLABEL,
							"label column '%s' "
							"appears twice",
							o->label);
					m->label_col = (int64_t)i;
				}
		if (m->label_col < 0 && all_digits(o->label)) {
			unsigned long long k = strtoull(o->label, NULL, 10);
			if (k >= 1 && k <= ncols)
				m->label_col = (int64_t)k - 1;
		}
		/* without a header, columns are named col1, col2... (as a
		 * model trained with --no-header remembers them) */
		if (m->label_col < 0 && !names &&
		    !strncmp(o->label, "col", 3) && all_digits(o->label + 3)) {
			unsigned long long k = strtoull(o->label + 3, NULL, 10);
			if (k >= 1 && k <= ncols)
				m->label_col = (int64_t)k - 1;
		}
		if (m->label_col < 0 && !o->label_optional)
			return dml_fail(err, DML_ENOLABEL,
					"label column '%s' not found",
					o->label);
	}
	struct dml_strtab cols = {0};
	if (names) {
		for (size_t i = 0; i < ncols; i++) {
			uint32_t before = cols.n;
			uint32_t id = dml_strtab_intern(&cols, names[i]);
			if (id == UINT32_MAX) {
				dml_strtab_free(&cols);
				return dml_fail(err, DML_ENOMEM, NULL);
			}
			if (cols.n == before && (int64_t)i != m->label_col &&
			    !o->schema) {
				dml_strtab_free(&cols);
				return dml_fail(err, DML_ECSV,
						"duplicate column name '%s'",
						names[i]);
			}
		}
	}
	if (o->schema) {
		const struct dml_schema *s = o->schema;
		m->nfeat = s->nfeat;
		for (uint32_t f = 0; f < s->nfeat; f++) {
			int64_t col = -1;
			if (names) {
				uint32_t id = dml_strtab_find(&cols,
							      s->names[f]);
				if (id != UINT32_MAX)
					col = id;
				/* interned ids follow first appearance;
				 * find the column index itself */
				if (col >= 0)
					for (size_t i = 0; i < ncols; i++)
						if (!strcmp(names[i],
							    s->names[f])) {
							col = (int64_t)i;
							break;
						}
			} else {
				char buf[32];
				for (size_t i = 0; i < ncols; i++) {
					snprintf(buf, sizeof buf, "col%zu",
						 i + 1);
					if (!strcmp(buf, s->names[f])) {
						col = (int64_t)i;
						break;
					}
				}
			}
			if (col < 0 || col == m->label_col) {
				dml_strtab_free(&cols);
				return dml_fail(err, DML_ENOCOLUMN,
						"column '%s' not found (the "
						"model needs %u features)",
						s->names[f], s->nfeat);
			}
			m->feat[col] = f;
		}
		dml_strtab_free(&cols);
		return DML_OK;
	}
	dml_strtab_free(&cols);
	memset(schema, 0, sizeof *schema);
	uint32_t nfeat = (uint32_t)(ncols - (m->label_col >= 0));
	schema->names = calloc(nfeat ? nfeat : 1, sizeof *schema->names);
	if (!schema->names)
		return dml_fail(err, DML_ENOMEM, NULL);
	schema->nfeat = nfeat;
	uint32_t f = 0;
	for (size_t i = 0; i < ncols; i++) {
		if ((int64_t)i == m->label_col)
			continue;
		m->feat[i] = f;
		if (!(schema->names[f++] = col_name(names, i)))
			return dml_fail(err, DML_ENOMEM, NULL);
	}
	schema->label = m->label_col >= 0 ? col_name(names,
						     (size_t)m->label_col)
					  : strdup("");
	if (!schema->label)
		return dml_fail(err, DML_ENOMEM, NULL);
	m->nfeat = nfeat;
	dml_schema_fingerprint(schema);
	return DML_OK;
}

enum dml_err dml_colmap_row(const struct dml_colmap *m, char **fields,
			    size_t n, double *x, const char **label,
			    struct dml_error *err)
{
	if (n != m->ncols) {
		if (n == 1 && fields[0][0] == '\0')
			return dml_fail(err, DML_EFIELDS,
					"expected %zu fields, found an empty "
					"line", m->ncols);
		return dml_fail(err, DML_EFIELDS,
				"expected %zu fields, found %zu", m->ncols, n);
	}
	for (size_t i = 0; i < n; i++) {
		int64_t f = m->feat[i];
		if (f < 0)
			continue;
		int rc = dml_parse_field(fields[i], &x[f]);
		if (rc) {
			err->column = i + 1;
			if (rc == -3)
				return dml_fail(err, DML_ENUMBER,
						"empty field");
			if (rc == -2)
				return dml_fail(err, DML_ENUMBER,
						"not a finite number: '%.40s'",
						fields[i]);
			return dml_fail(err, DML_ENUMBER,
					"not a number: '%.40s'", fields[i]);
		}
	}
	if (label) {
		*label = m->label_col >= 0 ? fields[m->label_col] : NULL;
		if (*label && strlen(*label) > DML_MAX_STRING) {
			err->column = (uint64_t)m->label_col + 1;
			return dml_fail(err, DML_ETOOBIG,
					"label longer than %u bytes",
					DML_MAX_STRING);
		}
	}
	return DML_OK;
}

/* ---- data sets ---- */

void dml_data_init(struct dml_data *d)
{
	memset(d, 0, sizeof *d);
	dml_hash_init(&d->hash, DML_HASH_SEED);
	d->map.label_col = -1;
}

void dml_data_free(struct dml_data *d)
{
	dml_schema_free(&d->schema);
	dml_rows_free(d->x);
	dml_rows_free(d->q);
	free(d->y);
	dml_strtab_free(&d->labels);
	dml_colmap_free(&d->map);
	memset(d, 0, sizeof *d);
}

/* Streaming (o->rows_fn): hand the rows held on in blocks of
 * DML_STREAM_ROWS, all of them when last (the final block shorter), and
 * keep the rest at the front. */
static enum dml_err hand_on(struct dml_data *d, const struct dml_load_opts *o,
			    int last, struct dml_error *err)
{
	uint32_t nf = d->schema.nfeat;
	uint64_t held = d->n - d->base, off = 0;
	while (held - off >= DML_STREAM_ROWS || (last && off < held)) {
		uint64_t k = held - off < DML_STREAM_ROWS ? held - off
							 : DML_STREAM_ROWS;
		enum dml_err rc = o->rows_fn(o->rows_ctx, d, d->x + off * nf,
					     d->y + off, k, err);
		if (rc)
			return rc;
		off += k;
	}
	if (off && off < held) {
		memmove(d->x, d->x + off * nf,
			(size_t)(held - off) * nf * sizeof *d->x);
		memmove(d->y, d->y + off, (size_t)(held - off) * sizeof *d->y);
	}
	d->base += off;
	return DML_OK;
}

enum dml_err dml_data_flush(struct dml_data *d, const struct dml_load_opts *o,
			    struct dml_error *err)
{
	return o->rows_fn ? hand_on(d, o, 1, err) : DML_OK;
}

static enum dml_err on_header(void *ctx, char **f, size_t n, uint64_t line,
			      struct dml_error *err)
{
	(void)line;
	struct dml_data *d = ctx;
	struct dml_load_opts o = *d->opts;
	if (d->files > 0 && !o.schema)
		o.schema = &d->schema; /* later files: match the first */
	dml_colmap_free(&d->map);
	struct dml_schema s = {0};
	enum dml_err rc = dml_colmap_build(&d->map, f, n, &o, &s, err);
	if (rc) {
		dml_schema_free(&s);
		return rc;
	}
	if (d->files == 0) {
		if (o.schema) {
			if ((rc = dml_schema_copy(&d->schema, o.schema)))
				return dml_fail(err, rc, NULL);
		} else {
			d->schema = s;
		}
	}
	d->has_label = d->map.label_col >= 0;
	return DML_OK;
}

/* The id of a row's label: its class when classes are given, else its
 * index in labels (0 when the row has none). */
static enum dml_err label_id(const struct dml_data *d,
			     struct dml_strtab *labels, const char *label,
			     uint32_t *id, struct dml_error *err)
{
	*id = 0;
	if (!label)
		return DML_OK;
	double v;
	if (d->opts->numeric_label && dml_parse_double(label, &v)) {
		err->column = (uint64_t)d->map.label_col + 1;
		return dml_fail(err, DML_ENUMBER,
				"target '%.40s' is not a finite number",
				label);
	}
	if (d->opts->classes) {
		int64_t k = dml_labels_find(d->opts->classes, label);
		if (k < 0) {
			err->column = (uint64_t)d->map.label_col + 1;
			return dml_fail(err, DML_ELABELS,
					"label '%.40s' is not one of the "
					"model's classes", label);
		}
		*id = (uint32_t)k;
		return DML_OK;
	}
	*id = dml_strtab_intern(labels, label);
	if (*id == UINT32_MAX)
		return dml_fail(err, DML_ENOMEM, NULL);
	return DML_OK;
}

/* Room for cap rows of stride values and their labels. */
static enum dml_err rows_reserve(struct dml_data *d, uint64_t cap,
				 uint32_t stride, struct dml_error *err)
{
	if (stride && cap > SIZE_MAX / sizeof(double) / stride)
		return dml_fail(err, DML_ENOMEM, NULL);
	double *x = dml_rows_realloc(d->x, (size_t)cap * stride * sizeof *x);
	if (!x)
		return dml_fail(err, DML_ENOMEM, NULL);
	d->x = x;
	uint32_t *y = realloc(d->y, (size_t)(cap ? cap : 1) * sizeof *y);
	if (!y)
		return dml_fail(err, DML_ENOMEM, NULL);
	d->y = y;
	d->cap = cap;
	return DML_OK;
}

enum dml_err dml_data_room(struct dml_data *d, uint32_t stride,
			   int streaming, struct dml_error *err)
{
	if (d->n - d->base < d->cap)
		return DML_OK;
	/* start at about 1 MiB of rows, however wide they are */
	uint64_t first = stride ? (UINT64_C(1) << 20) / (8 * (uint64_t)stride)
				: 1024;
	if (streaming)
		first = DML_STREAM_ROWS;
	return rows_reserve(d, d->cap ? d->cap * 2 : first ? first : 1,
			    stride, err);
}

static enum dml_err on_row(void *ctx, char **f, size_t n, uint64_t line,
			   struct dml_error *err)
{
	(void)line;
	struct dml_data *d = ctx;
	enum dml_err rc;
	if (!d->map.feat) {
		/* no header: the first row fixes the columns */
		if ((rc = on_header(ctx, NULL, n, line, err)))
			return rc;
	}
	uint32_t nf = d->schema.nfeat;
	uint64_t at = d->n - d->base;
	if (d->opts->rows_fn && at >= DML_STREAM_ROWS) {
		if ((rc = hand_on(d, d->opts, 0, err)))
			return rc;
		at = d->n - d->base;
	}
	if ((rc = dml_data_room(d, nf, d->opts->rows_fn != NULL, err)))
		return rc;
	const char *label;
	rc = dml_colmap_row(&d->map, f, n, d->x + at * nf, &label, err);
	if (rc)
		return rc;
	if ((rc = label_id(d, &d->labels, label, &d->y[at], err)))
		return rc;
	d->n++;
	return DML_OK;
}

/* ---- binary data blocks ---- */

enum dml_err dml_block_init(struct dml_block *b, uint32_t nfeat,
			    uint32_t dtype, int has_label)
{
	memset(b, 0, sizeof *b);
	b->nfeat = nfeat;
	b->dtype = dtype;
	b->has_label = has_label;
	size_t size = dtype == DML_F32 ? 4 : 8;
	uint64_t row_bytes = (uint64_t)nfeat * size;
	b->cap = DML_BLOCK_ROWS;
	if (row_bytes && DML_BLOCK_BYTES / row_bytes < b->cap)
		b->cap = DML_BLOCK_BYTES / row_bytes ? DML_BLOCK_BYTES /
						       row_bytes : 1;
	b->x = malloc((size_t)b->cap * nfeat * size + 8);
	b->y = malloc((size_t)b->cap * sizeof *b->y);
	b->counts = calloc((size_t)b->cap, sizeof *b->counts);
	if (!b->x || !b->y || !b->counts) {
		dml_block_free(b);
		return DML_ENOMEM;
	}
	return DML_OK;
}

void dml_block_free(struct dml_block *b)
{
	free(b->x);
	free(b->y);
	free(b->counts);
	dml_strtab_free(&b->labels);
	memset(b, 0, sizeof *b);
}

enum dml_err dml_block_add(struct dml_block *b, const double *x,
			   const char *label)
{
	if (b->n >= b->cap)
		return DML_ETOOBIG;
	if (b->dtype == DML_F32) {
		float *p = (float *)b->x + b->n * b->nfeat;
		for (uint32_t j = 0; j < b->nfeat; j++) {
			p[j] = (float)x[j];
			if (!isfinite(p[j]))
				return DML_ERANGE; /* beyond float range */
		}
	} else {
		memcpy((double *)b->x + b->n * b->nfeat, x,
		       b->nfeat * sizeof *x);
	}
	uint32_t id = UINT32_MAX;
	if (b->has_label) {
		id = dml_strtab_intern(&b->labels, label ? label : "");
		if (id == UINT32_MAX)
			return DML_ENOMEM;
		b->counts[id]++;
	}
	b->y[b->n++] = id;
	return DML_OK;
}

enum dml_err dml_block_encode(struct dml_block *b,
			      const struct dml_schema *s, struct dml_buf *out)
{
	dml_buf_init(out);
	dml_schema_write(out, s);
	struct dml_labels l = {
		.n = b->labels.n, .names = b->labels.s, .counts = b->counts,
	};
	dml_labels_write(out, &l);
	dml_buf_section(out, DML_SEC_ROWS, 0);
	dml_buf_u64(out, b->n);
	dml_buf_u32(out, b->nfeat);
	dml_buf_u32(out, b->dtype);
	dml_buf_u32(out, (uint32_t)b->has_label);
	dml_buf_u32(out, 0);
	size_t nval = (size_t)b->n * b->nfeat;
	if (b->dtype == DML_F32) {
		unsigned char *p = dml_buf_reserve(out, nval * 4);
		const float *x = b->x;
		for (size_t i = 0; p && i < nval; i++) {
			uint32_t u;
			memcpy(&u, &x[i], 4);
			dml_put32(p + 4 * i, u);
		}
		if (nval % 2)
			dml_buf_reserve(out, 4);
	} else {
		dml_buf_f64s(out, b->x, nval);
	}
	if (b->has_label) {
		for (uint64_t i = 0; i < b->n; i++)
			dml_buf_u32(out, b->y[i]);
		if (b->n % 2)
			dml_buf_u32(out, 0);
	}
	struct dml_header h = {
		.kind = DML_KIND_DATA, .schema = s->fingerprint,
		.samples = b->n,
	};
	enum dml_err rc = dml_buf_finish(out, &h);
	b->n = 0;
	memset(b->counts, 0, b->labels.n * sizeof *b->counts);
	dml_strtab_free(&b->labels);
	return rc;
}

/* Check the rows section and point *px and *py at its values and label
 * ids as they are on the wire; b gets the shape, nothing is allocated. */
static enum dml_err block_parse(const struct dml_record *rec,
				struct dml_block *b, const unsigned char **px,
				const unsigned char **py,
				struct dml_error *err)
{
	struct dml_section sec;
	memset(b, 0, sizeof *b);
	if (rec->h.kind != DML_KIND_DATA)
		return dml_fail(err, DML_EKIND, "expected data, found a %s "
				"record", dml_kind_name(rec->h.kind));
	static const uint32_t known[] = {
		DML_SEC_SCHEMA, DML_SEC_LABELS, DML_SEC_ROWS,
	};
	enum dml_err rc = dml_record_check_known(rec, known, 3, err);
	if (rc)
		return rc;
	if (!dml_record_find(rec, DML_SEC_ROWS, &sec))
		return dml_fail(err, DML_EFORMAT, "no rows section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	uint64_t n = dml_cur_u64(&c);
	uint32_t nfeat = dml_cur_u32(&c), dtype = dml_cur_u32(&c);
	uint32_t has_label = dml_cur_u32(&c);
	if (dml_cur_u32(&c) != 0)
		return dml_fail(err, DML_EFORMAT,
				"reserved field of the rows section is set");
	size_t size = dtype == DML_F32 ? 4 : 8;
	if (c.bad || (dtype != DML_F32 && dtype != DML_F64) ||
	    has_label > 1 || n > DML_BLOCK_ROWS || n != rec->h.samples)
		return dml_fail(err, DML_EFORMAT, "malformed rows section");
	uint64_t xbytes = (n * nfeat * size + 7) & ~UINT64_C(7);
	uint64_t ybytes = has_label ? (n * 4 + 7) & ~UINT64_C(7) : 0;
	if (nfeat > c.left || xbytes + ybytes != c.left)
		return dml_fail(err, DML_ETOOBIG,
				"rows section holds %llu bytes, %llu rows of "
				"%u features need %llu",
				(unsigned long long)c.left,
				(unsigned long long)n, nfeat,
				(unsigned long long)(xbytes + ybytes));
	b->n = n;
	b->nfeat = nfeat;
	b->dtype = dtype;
	b->has_label = (int)has_label;
	*px = dml_cur_bytes(&c, xbytes);
	*py = dml_cur_bytes(&c, ybytes);
	return DML_OK;
}

enum dml_err dml_block_decode(const struct dml_record *rec,
			      struct dml_block *b, struct dml_error *err)
{
	const unsigned char *p, *py;
	enum dml_err rc = block_parse(rec, b, &p, &py, err);
	if (rc)
		return rc;
	uint64_t n = b->n, nfeat = b->nfeat;
	uint32_t dtype = b->dtype;
	size_t size = dtype == DML_F32 ? 4 : 8;
	b->x = malloc((size_t)(n * nfeat) * size + 8);
	b->y = malloc((size_t)n * sizeof *b->y + 4);
	if (!b->x || !b->y) {
		dml_block_free(b);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(b->x, p, (size_t)(n * nfeat) * size); /* the wire order */
	if (0)
#endif
	for (uint64_t i = 0; i < n * nfeat; i++) {
		if (dtype == DML_F32) {
			uint32_t u = dml_get32(p + 4 * i);
			memcpy((float *)b->x + i, &u, 4);
		} else {
			uint64_t u = dml_get64(p + 8 * i);
			memcpy((double *)b->x + i, &u, 8);
		}
	}
	for (uint64_t i = 0; i < n; i++)
		b->y[i] = b->has_label ? dml_get32(py + 4 * i) : UINT32_MAX;
	return DML_OK;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_ORDER 1 /* values in memory as on the wire */
#else
#define WIRE_ORDER 0
#endif

#if defined(__GNUC__) && (__GNUC__ >= 9 || defined(__clang__))
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
#define VEC_ROWS WIRE_ORDER
#else
#define VEC_ROWS 0
#endif

/* The values of one f32 row, the features in stored order, as doubles,
 * four at a time where the compiler has vectors; the finiteness test is
 * folded in (exponent bits all set, plus one step, is the only way to
 * bit 31). */
static int f32_row(const unsigned char *p, uint32_t n, double *out)
{
	uint32_t bad = 0, f = 0;
#if VEC_ROWS
	v4u vbad = {0, 0, 0, 0};
	const v4u expo = { 0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000 };
	const v4u step = { 0x00800000, 0x00800000, 0x00800000, 0x00800000 };
	for (; f + 4 <= n; f += 4) {
		v4u u;
		v4f v;
		memcpy(&u, p + 4 * (size_t)f, sizeof u);
		memcpy(&v, &u, sizeof v);
		v4d d = __builtin_convertvector(v, v4d);
		memcpy(out + f, &d, sizeof d);
		vbad |= (u & expo) + step;
	}
	bad = vbad[0] | vbad[1] | vbad[2] | vbad[3];
#endif
	for (; f < n; f++) {
		uint32_t u = dml_get32(p + 4 * (size_t)f);
		float v;
		memcpy(&v, &u, 4);
		out[f] = v;
		bad |= (u & UINT32_C(0x7f800000)) + UINT32_C(0x00800000);
	}
	return !(bad >> 31);
}

enum dml_err dml_block_wire_row(const struct dml_block *b,
				const unsigned char *p, uint64_t i,
				const int64_t *map, uint32_t n, double *out,
				struct dml_error *err)
{
	uint64_t row = i * b->nfeat;
	if (!map && b->dtype == DML_F32) {
		if (f32_row(p + 4 * row, n, out))
			return DML_OK;
		return dml_fail(err, DML_ENUMBER, "row %llu: non-finite value",
				(unsigned long long)i + 1);
	}
	for (uint32_t f = 0; f < n; f++) {
		uint64_t k = row + (map ? (uint64_t)map[f] : f);
		if (b->dtype == DML_F32) {
			uint32_t u;
			float v;
			if (WIRE_ORDER)
				memcpy(&u, p + 4 * k, 4);
			else
				u = dml_get32(p + 4 * k);
			memcpy(&v, &u, 4);
			out[f] = v;
		} else if (WIRE_ORDER) {
			memcpy(&out[f], p + 8 * k, 8);
		} else {
			uint64_t u = dml_get64(p + 8 * k);
			memcpy(&out[f], &u, 8);
		}
	}
	for (uint32_t f = 0; f < n; f++)
		if (!isfinite(out[f]))
			return dml_fail(err, DML_ENUMBER,
					"row %llu: non-finite value",
					(unsigned long long)i + 1);
	return DML_OK;
}

enum dml_err dml_block_view(const struct dml_record *rec,
			    struct dml_block *b, const unsigned char **px,
			    const unsigned char **py, struct dml_error *err)
{
	return block_parse(rec, b, px, py, err);
}

/* All rows of a block of doubles in wire order, its columns those of
 * the data: one copy, then the check of wire_row. */
static enum dml_err wire_rows(const struct dml_block *b,
			      const unsigned char *p, uint64_t i0,
			      uint64_t i1, double *out, struct dml_error *err)
{
	size_t nv = (size_t)(i1 - i0) * b->nfeat;
	memcpy(out, p + (size_t)i0 * b->nfeat * sizeof *out,
	       nv * sizeof *out);
	int bad = 0;
	for (size_t i = 0; i < nv; i++)
		bad |= !isfinite(out[i]);
	if (!bad)
		return DML_OK;
	for (size_t i = 0;; i++)
		if (!isfinite(out[i]))
			return dml_fail(err, DML_ENUMBER,
					"row %llu: non-finite value",
					(unsigned long long)(i0 + i / b->nfeat)
					+ 1);
}

/* Does map take column f to f, for all n of the block's columns? */
static int map_is_identity(const struct dml_block *b, const int64_t *map,
			   uint32_t n)
{
	if (n != b->nfeat)
		return 0;
	for (uint32_t f = 0; f < n; f++)
		if (map[f] != (int64_t)f)
			return 0;
	return 1;
}

enum dml_err dml_block_row(const struct dml_block *b, uint64_t i,
			   const int64_t *map, uint32_t n, double *out,
			   struct dml_error *err)
{
	uint64_t row = i * b->nfeat;
	for (uint32_t f = 0; f < n; f++) {
		uint64_t k = row + (uint64_t)map[f];
		out[f] = b->dtype == DML_F32 ? (double)((const float *)b->x)[k]
					     : ((const double *)b->x)[k];
		if (!isfinite(out[f]))
			return dml_fail(err, DML_ENUMBER,
					"row %llu: non-finite value",
					(unsigned long long)i + 1);
	}
	return DML_OK;
}

/* ---- the memory of rows ----
 *
 * Arrays of rows run to hundreds of megabytes, and on virtual machines
 * the first touch of fresh memory costs more than reading it many times.
 * Past ROWS_MAPPED bytes an array has a mapping of its own that asks for
 * transparent huge pages as a whole (a fault then sets up 2 MiB, not 4 KiB,
 * where the system leaves huge pages to madvise) and grows with mremap,
 * which moves pages instead of copying them.  (malloc's own large blocks
 * cannot do both: advice on part of a mapping splits it, and mremap then
 * refuses to grow it.)  A header before the rows says which kind it is. */
#define ROWS_HEAD 64 /* keeps the rows aligned as malloc does */
#define ROWS_MAPPED ((size_t)8 << 20)

struct rows_head {
	size_t len;    /* bytes asked for */
	size_t mapped; /* length of the mapping, 0 when malloc'd */
};

static void *rows_map(size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(m, len, MADV_HUGEPAGE);
#endif
	return m;
}

void *dml_rows_realloc(void *p, size_t len)
{
	if (len > SIZE_MAX - ROWS_HEAD - 4096)
		return NULL;
	struct rows_head *h = p ? (struct rows_head *)((char *)p - ROWS_HEAD)
				: NULL;
	size_t total = len + ROWS_HEAD;
	if (total < ROWS_MAPPED && (!h || !h->mapped)) {
		h = realloc(h, total);
		if (!h)
			return NULL;
		h->len = len;
		h->mapped = 0;
		return (char *)h + ROWS_HEAD;
	}
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t maplen = (total + pg - 1) / pg * pg;
	void *m = MAP_FAILED;
#ifdef MREMAP_MAYMOVE
	if (h && h->mapped)
		m = mremap(h, h->mapped, maplen, MREMAP_MAYMOVE);
#endif
	if (m == MAP_FAILED) {
		m = rows_map(maplen);
		if (!m)
			return NULL;
		if (h) {
			size_t keep = h->len < len ? h->len : len;
			memcpy((char *)m + ROWS_HEAD, p, keep);
			if (h->mapped)
				munmap(h, h->mapped);
			else
				free(h);
		}
	}
	h = m;
	h->len = len;
	h->mapped = maplen;
	return (char *)h + ROWS_HEAD;
}

void dml_rows_free(void *p)
{
	if (!p)
		return;
	struct rows_head *h = (struct rows_head *)((char *)p - ROWS_HEAD);
	if (h->mapped)
		munmap(h, h->mapped);
	else
		free(h);
}

void dml_prefault(void *p, size_t len)
{
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t b = ((uintptr_t)p + len) & ~(uintptr_t)4095;
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

/* 1 if every value of x[0..n) is a whole number 0..255 (not -0, whose
 * standardized value differs from 0's in its sign). */
DML_WIDE static int whole_bytes(const double *x, size_t n)
{
	int ok = 1;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		int64_t b;
		memcpy(&b, &v, sizeof b);
		/* v + 2^52 keeps v's integer part and rounds off the rest */
		ok &= (b >= 0) & (v <= 255) & ((v + 0x1p52) - 0x1p52 == v);
	}
	return ok;
}

DML_WIDE static void to_bytes(const double *x, size_t n, uint8_t *q)
{
	for (size_t i = 0; i < n; i++)
		q[i] = (uint8_t)x[i];
}

DML_WIDE void dml_rows_from_bytes(const uint8_t *q, size_t n, double *x)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (double)q[i];
}

/* The nv bytes of *q as doubles in *x, grown to room values; *q freed.
 * Nonzero when out of memory (nothing changed). */
static int to_doubles(uint8_t **q, double **x, size_t room, size_t nv)
{
	double *nx = dml_rows_realloc(*x, room * sizeof *nx);
	if (!nx)
		return -1;
	dml_rows_from_bytes(*q, nv, nx);
	dml_rows_free(*q);
	*q = NULL;
	*x = nx;
	return 0;
}

enum dml_err dml_rowstore_add(struct dml_rowstore *s, const double *x,
			      const uint32_t *y, uint64_t n, uint32_t nf,
			      struct dml_error *err)
{
	if (s->n == 0 && !s->q && !s->x)
		s->nf = nf;
	else if (nf != s->nf)
		return dml_fail(err, DML_EPARAM, "rows of %lu values after "
				"rows of %lu", (unsigned long)nf,
				(unsigned long)s->nf);
	size_t w = s->nf ? s->nf : 1;
	if (s->n + n > s->cap) {
		uint64_t cap = s->cap ? s->cap : 1024;
		while (cap < s->n + n)
			cap *= 2;
		if (cap > SIZE_MAX / sizeof(double) / w)
			return dml_fail(err, DML_ENOMEM, NULL);
		uint32_t *ny = realloc(s->y, (size_t)cap * sizeof *ny);
		if (!ny)
			return dml_fail(err, DML_ENOMEM, NULL);
		s->y = ny;
		if (s->x) {
			double *nx = dml_rows_realloc(s->x, (size_t)cap * w *
						      sizeof *nx);
			if (!nx)
				return dml_fail(err, DML_ENOMEM, NULL);
			s->x = nx;
		} else {
			uint8_t *nq = dml_rows_realloc(s->q, (size_t)cap * w);
			if (!nq)
				return dml_fail(err, DML_ENOMEM, NULL);
			s->q = nq;
		}
		s->cap = cap;
	}
	size_t at = (size_t)s->n * s->nf, len = (size_t)n * s->nf;
	/* from here on doubles: the bytes so far become doubles */
	if (s->q && !whole_bytes(x, len) &&
	    to_doubles(&s->q, &s->x, (size_t)s->cap * w, at))
		return dml_fail(err, DML_ENOMEM, NULL);
	if (s->q)
		to_bytes(x, len, s->q + at);
	else
		memcpy(s->x + at, x, len * sizeof *x);
	memcpy(s->y + s->n, y, (size_t)n * sizeof *y);
	s->n += n;
	return DML_OK;
}

void dml_rowstore_free(struct dml_rowstore *s)
{
	dml_rows_free(s->q);
	dml_rows_free(s->x);
	free(s->y);
	memset(s, 0, sizeof *s);
}

/* The id of label yi of a data record's labels rl: its index among the
 * model's classes, or among the labels seen so far. */
static enum dml_err block_label(struct dml_data *d,
				const struct dml_load_opts *o,
				const struct dml_labels *rl, uint32_t yi,
				uint32_t *id, struct dml_error *err)
{
	if (yi >= rl->n)
		return dml_fail(err, DML_EFORMAT, "label id out of range");
	const char *label = rl->names[yi];
	if (o->classes) {
		int64_t k = dml_labels_find(o->classes, label);
		if (k < 0)
			return dml_fail(err, DML_ELABELS, "label '%.40s' is not "
					"one of the model's classes", label);
		*id = (uint32_t)k;
		return DML_OK;
	}
	*id = dml_strtab_intern(&d->labels, label);
	return *id == UINT32_MAX ? dml_fail(err, DML_ENOMEM, NULL) : DML_OK;
}

static enum dml_err load_records(struct dml_data *d, struct dml_src *src,
				 const struct dml_load_opts *o,
				 struct dml_error *err)
{
	struct dml_record rec;
	struct dml_block blk;
	struct dml_schema rs = {0};
	struct dml_labels rl = {0};
	int64_t *map = NULL;
	int use_label = 0;
	uint64_t first_fp = 0;
	enum dml_err rc = DML_OK;
	dml_record_init(&rec);
	memset(&blk, 0, sizeof blk);
	for (uint64_t r = 1;; r++) {
		rc = dml_record_read_src(src, &rec, err);
		if (rc == DML_EEMPTY) {
			rc = r == 1 ? dml_fail(err, DML_EEMPTY, NULL) : DML_OK;
			break;
		}
		if (!rc && rec.h.kind != DML_KIND_DATA)
			rc = dml_fail(err, DML_EKIND, "expected data rows, "
				      "found %s %s record",
				      dml_kind_article(rec.h.kind),
				      dml_kind_name(rec.h.kind));
		if (!rc && r > 1 && rec.h.schema != first_fp)
			rc = dml_fail(err, DML_ESCHEMA, "columns differ from "
				      "the first record's");
		if (!rc && r == 1)
			rc = dml_schema_read(&rec, &rs, err);
		if (!rc)
			rc = dml_labels_read(&rec, &rl, err);
		const unsigned char *px = NULL, *py = NULL;
		if (!rc)
			rc = block_parse(&rec, &blk, &px, &py, err);
		if (!rc && blk.nfeat != rs.nfeat)
			rc = dml_fail(err, DML_EFORMAT, "rows of %u values for "
				      "%u features", blk.nfeat, rs.nfeat);
		if (!rc && r == 1) {
			first_fp = rec.h.schema;
			const struct dml_schema *want = o->schema;
			if (!want && d->files > 0)
				want = &d->schema;
			use_label = o->label && blk.has_label &&
				    !strcmp(o->label, rs.label);
			if (o->label && !use_label && !o->label_optional)
				rc = dml_fail(err, DML_ENOLABEL,
					      "label column '%s' not found "
					      "(the data's label column is "
					      "'%s')", o->label,
					      blk.has_label ? rs.label
							    : "none");
			uint32_t nf = want ? want->nfeat : rs.nfeat;
			map = malloc((nf + 1) * sizeof *map);
			if (!rc && !map)
				rc = dml_fail(err, DML_ENOMEM, NULL);
			if (!rc && want)
				rc = dml_schema_map(&rs, want, map, err);
			for (uint32_t f = 0; !rc && !want && f < nf; f++)
				map[f] = f;
			if (!rc && d->files == 0) {
				if (want)
					rc = dml_schema_copy(&d->schema, want);
				else
					rc = dml_schema_copy(&d->schema, &rs);
				if (rc)
					rc = dml_fail(err, rc, NULL);
			}
			d->has_label = use_label;
		}
		uint32_t nf = d->schema.nfeat;
		/* the columns in their stored order: whole rows at a time */
		int ident = !rc && map_is_identity(&blk, map, nf);
		int whole = ident && WIRE_ORDER && blk.dtype == DML_F64;
		/* streaming: the rows are handed on as each DML_STREAM_ROWS
		 * fill up, while they are in the cache; memory stays one
		 * block of them */
		for (uint64_t i0 = 0; !rc && i0 < blk.n;) {
			uint64_t held = d->n - d->base, i1 = blk.n;
			if (o->rows_fn && i1 - i0 > DML_STREAM_ROWS - held)
				i1 = i0 + (DML_STREAM_ROWS - held);
			if (held + (i1 - i0) > d->cap) {
				uint64_t cap = d->cap ? d->cap : i1 - i0;
				while (cap < held + (i1 - i0))
					cap *= 2;
				if ((rc = rows_reserve(d, cap, nf, err)))
					break;
			}
			double *xb = d->x + held * nf;
			if (!o->rows_fn) /* streaming reuses its memory */
				dml_prefault(xb, (size_t)(i1 - i0) * nf *
						 sizeof *xb);
			if (whole)
				rc = wire_rows(&blk, px, i0, i1, xb, err);
			for (uint64_t i = i0; !rc && i < i1; i++) {
				if (!whole)
					rc = dml_block_wire_row(&blk, px, i,
						ident ? NULL : map, nf,
						xb + (i - i0) * nf, err);
				if (rc)
					break;
				uint32_t id = 0;
				if (use_label && (rc = block_label(d, o, &rl,
						dml_get32(py + 4 * i), &id,
						err)))
					break;
				d->y[held + (i - i0)] = id;
			}
			if (!rc)
				d->n += i1 - i0;
			if (!rc && o->rows_fn)
				rc = hand_on(d, o, 0, err);
			i0 = i1;
		}
		dml_block_free(&blk);
		dml_labels_free(&rl);
		if (rc) {
			if (err)
				err->record = r;
			break;
		}
	}
	free(map);
	dml_schema_free(&rs);
	dml_record_free(&rec);
	return rc;
}

enum dml_err dml_data_load(struct dml_data *d, int fd,
			   const struct dml_load_opts *o,
			   struct dml_error *err)
{
	struct dml_src src;
	dml_src_init(&src, fd, &d->hash);
	return dml_data_load_src(d, &src, o, err);
}

/* ---- parsing a CSV file in parallel ---- */

#define PARALLEL_MIN (1u << 22) /* smaller files are parsed in one thread */

struct part {
	struct dml_data *d;
	const char *p;
	size_t len;
	uint64_t base, cap, n, lines;
	struct dml_strtab labels;
	struct dml_error err;
	enum dml_err rc;
	/* rows as bytes (dml_load_opts.bytes): parsed into blk, a block at
	 * a time, until one holds another value, which sets *wide */
	double *blk;
	uint64_t nblk;
	atomic_int *wide;
};

/* The rows of pt's block as bytes, in their place in d->q; 0 (and
 * *wide set) if a value is not a whole number 0..255, or another part
 * has found one. */
static int part_bytes(struct part *pt)
{
	uint32_t nf = pt->d->schema.nfeat;
	size_t len = (size_t)pt->nblk * nf;
	if (atomic_load(pt->wide) || !whole_bytes(pt->blk, len)) {
		atomic_store(pt->wide, 1);
		return 0;
	}
	to_bytes(pt->blk, len, pt->d->q + (pt->base + pt->n - pt->nblk) * nf);
	pt->nblk = 0;
	return 1;
}

static enum dml_err part_row(void *ctx, char **f, size_t n, uint64_t line,
			     struct dml_error *err)
{
	(void)line;
	struct part *pt = ctx;
	struct dml_data *d = pt->d;
	uint32_t nf = d->schema.nfeat;
	if (pt->n >= pt->cap)
		return dml_fail(err, DML_ECSV, "more rows than lines");
	const char *label;
	double *x = pt->blk ? pt->blk + pt->nblk * nf
			    : d->x + (pt->base + pt->n) * nf;
	enum dml_err rc = dml_colmap_row(&d->map, f, n, x, &label, err);
	if (rc)
		return rc;
	if ((rc = label_id(d, &pt->labels, label, &d->y[pt->base + pt->n],
			   err)))
		return rc;
	pt->n++;
	if (pt->blk && ++pt->nblk == DML_STREAM_ROWS && !part_bytes(pt))
		return DML_EPARAM; /* stop: the file is read again as doubles */
	return DML_OK;
}

static void *part_main(void *arg)
{
	struct part *pt = arg;
	pt->rc = dml_csv_parse_lines(pt->p, pt->len, &pt->d->opts->csv, 1,
				     part_row, pt, &pt->err);
	if (!pt->rc && pt->blk && pt->nblk && !part_bytes(pt))
		pt->rc = DML_EPARAM;
	return NULL;
}

static uint64_t count_byte(const char *p, size_t n, char c)
{
	uint64_t k = 0;
	const char *end = p + n;
	while ((p = memchr(p, c, (size_t)(end - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/* The whole of a regular file without quotes, split at line ends between
 * threads; rows keep their order.  Returns 0 (and touches nothing) when
 * the file does not qualify. */
static int load_parallel(struct dml_data *d, struct dml_src *src,
			 const struct dml_load_opts *o, enum dml_err *rcp,
			 struct dml_error *err)
{
	struct stat st;
	if (o->threads < 2 || o->rows_fn || fstat(src->fd, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < PARALLEL_MIN ||
	    lseek(src->fd, 0, SEEK_CUR) != (off_t)src->npre ||
	    src->pos != 0)
		return 0;
	size_t size = (size_t)st.st_size;
	char *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, src->fd, 0);
	if (data == MAP_FAILED)
		return 0;
	if (memchr(data, '"', size)) {
		munmap(data, size);
		return 0;
	}
	/* CR alone as a line end: the plain reader counts those lines */
	for (const char *c = data; (c = memchr(c, '\r', size - (size_t)(c -
						data))) != NULL; c++)
		if ((size_t)(c + 1 - data) >= size || c[1] != '\n') {
			munmap(data, size);
			return 0;
		}
	size_t start = size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3) ? 3 : 0;
	const char *nl = memchr(data + start, '\n', size - start);
	const char *cr = nl ? memchr(data + start, '\r',
				      (size_t)(nl - data) - start) : NULL;
	if (!nl || (cr && cr + 1 != nl)) {
		/* no line end, or old Mac line ends: the plain reader */
		munmap(data, size);
		return 0;
	}
	/* the first line: the header, or the row that fixes the columns */
	d->opts = o;
	dml_colmap_free(&d->map);
	enum dml_err rc = dml_csv_parse_lines(data + start,
					      (size_t)(nl + 1 - data) - start,
					      &o->csv, 1,
					      o->csv.no_header ? on_row
							       : on_header,
					      d, err);
	if (rc || !d->map.feat) {
		munmap(data, size);
		d->opts = NULL;
		if (rc) {
			*rcp = rc;
			return 1;
		}
		return 0; /* a blank first line: let the plain reader judge */
	}
	size_t rest = (size_t)(nl + 1 - data);
	uint32_t nt = o->threads;
	struct part *parts = calloc(nt, sizeof *parts);
	if (!parts) {
		munmap(data, size);
		*rcp = dml_fail(err, DML_ENOMEM, NULL);
		return 1;
	}
	uint64_t rows = d->n;
	size_t pos = rest;
	for (uint32_t t = 0; t < nt; t++) {
		size_t end = rest + (size - rest) / nt * (t + 1);
		if (t == nt - 1 || end >= size) {
			end = size;
		} else {
			const char *e = memchr(data + end, '\n', size - end);
			end = e ? (size_t)(e + 1 - data) : size;
		}
		if (end < pos)
			end = pos;
		parts[t].d = d;
		parts[t].p = data + pos;
		parts[t].len = end - pos;
		parts[t].lines = count_byte(parts[t].p, parts[t].len, '\n');
		parts[t].cap = parts[t].lines +
			       count_byte(parts[t].p, parts[t].len, '\r') + 1;
		parts[t].base = rows;
		rows += parts[t].cap;
		pos = end;
	}
	uint32_t nf = d->schema.nfeat;
	/* bytes: into q where every value allows, else read again into x */
	int bytes = o->bytes && d->n == 0 && d->files == 0 && !d->q &&
		    rows <= SIZE_MAX / (nf ? nf : 1);
	atomic_int wide;
	atomic_init(&wide, 0);
	rc = DML_OK;
	if (bytes) {
		if (!(d->q = dml_rows_realloc(NULL, (size_t)rows * nf)))
			rc = dml_fail(err, DML_ENOMEM, NULL);
		for (uint32_t t = 0; !rc && t < nt; t++) {
			parts[t].wide = &wide;
			parts[t].blk = malloc((size_t)DML_STREAM_ROWS * nf *
					      sizeof *parts[t].blk + 1);
			if (!parts[t].blk)
				rc = dml_fail(err, DML_ENOMEM, NULL);
		}
	}
	if (!rc && rows > d->cap)
		rc = rows_reserve(d, rows, bytes ? 0 : nf, err);
	if (!rc)
		dml_threads_run(nt, part_main, parts, sizeof *parts);
	if (!rc && bytes && atomic_load(&wide)) {
		/* a value that is not a byte: all of it again, as doubles */
		dml_rows_free(d->q);
		d->q = NULL;
		for (uint32_t t = 0; t < nt; t++) {
			dml_strtab_free(&parts[t].labels);
			memset(&parts[t].labels, 0, sizeof parts[t].labels);
			free(parts[t].blk);
			parts[t].blk = NULL;
			parts[t].n = 0;
			parts[t].rc = DML_OK;
			memset(&parts[t].err, 0, sizeof parts[t].err);
		}
		bytes = 0;
		rc = rows_reserve(d, rows, nf, err);
		if (!rc)
			dml_threads_run(nt, part_main, parts, sizeof *parts);
	}
	/* the first error in file order, with its line in the file */
	uint64_t line0 = 2; /* the first line was read above */
	for (uint32_t t = 0; !rc && t < nt; t++) {
		if (parts[t].rc) {
			rc = parts[t].rc;
			if (err) {
				*err = parts[t].err;
				if (err->line)
					err->line += line0 - 1;
			}
		}
		line0 += parts[t].lines;
	}
	/* labels by first appearance, rows moved together */
	for (uint32_t t = 0; !rc && t < nt; t++) {
		struct part *pt = &parts[t];
		if (!o->classes && pt->labels.n) {
			uint32_t *map = malloc(pt->labels.n * sizeof *map);
			if (!map) {
				rc = dml_fail(err, DML_ENOMEM, NULL);
				break;
			}
			for (uint32_t i = 0; i < pt->labels.n && !rc; i++)
				if ((map[i] = dml_strtab_intern(&d->labels,
						pt->labels.s[i])) == UINT32_MAX)
					rc = dml_fail(err, DML_ENOMEM, NULL);
			for (uint64_t r = 0; !rc && r < pt->n; r++)
				d->y[pt->base + r] = map[d->y[pt->base + r]];
			free(map);
		}
		if (!rc && pt->base != d->n) {
			if (bytes)
				memmove(d->q + d->n * nf, d->q + pt->base * nf,
					(size_t)pt->n * nf);
			else
				memmove(d->x + d->n * nf, d->x + pt->base * nf,
					(size_t)pt->n * nf * sizeof *d->x);
			memmove(d->y + d->n, d->y + pt->base,
				(size_t)pt->n * sizeof *d->y);
		}
		d->n += pt->n;
	}
	for (uint32_t t = 0; t < nt; t++) {
		dml_strtab_free(&parts[t].labels);
		free(parts[t].blk);
	}
	free(parts);
	if (rc && d->q) {
		dml_rows_free(d->q);
		d->q = NULL;
	}
	/* the leaf identity covers every byte, as the plain reader's does */
	if (src->hash)
		dml_hash_update(src->hash, data + src->npre,
				size - src->npre);
	munmap(data, size);
	d->opts = NULL;
	*rcp = rc;
	return 1;
}

/* One CSV input through the plain reader. */
static enum dml_err load_csv(struct dml_data *d, struct dml_src *src,
			     const struct dml_load_opts *o,
			     struct dml_error *err)
{
	d->opts = o;
	dml_colmap_free(&d->map);
	enum dml_err rc = dml_csv_read(src, &o->csv, on_header, on_row, d,
				       err);
	if (rc == DML_OK && !d->map.feat)
		rc = dml_fail(err, DML_EEMPTY, "no data rows");
	d->opts = NULL;
	return rc;
}

static enum dml_err keep_rows(void *ctx, const struct dml_data *d,
			      double *x, const uint32_t *y, uint64_t n,
			      struct dml_error *err)
{
	return dml_rowstore_add(ctx, x, y, n, d->schema.nfeat, err);
}

/* o->bytes where the parallel reader does not take the input: the rows
 * stream (*so) into a dml_rowstore, bytes while every value is one,
 * which d then holds (keep_end).  0 when this does not apply. */
static int keep_begin(const struct dml_data *d, const struct dml_load_opts *o,
		      struct dml_load_opts *so, struct dml_rowstore *rs)
{
	if (!o->bytes || o->rows_fn || d->n || d->files || d->q)
		return 0;
	*so = *o;
	so->rows_fn = keep_rows;
	so->rows_ctx = rs;
	return 1;
}

static enum dml_err keep_end(struct dml_data *d,
			     const struct dml_load_opts *so,
			     struct dml_rowstore *rs, enum dml_err rc,
			     struct dml_error *err)
{
	if (!rc)
		rc = dml_data_flush(d, so, err);
	if (rc) {
		dml_rowstore_free(rs);
		return rc;
	}
	dml_rows_free(d->x);
	free(d->y);
	d->x = rs->x;
	d->q = rs->q;
	d->y = rs->y;
	d->cap = rs->cap;
	d->base = 0;
	return DML_OK;
}

enum dml_err dml_data_load_src(struct dml_data *d, struct dml_src *src,
			       const struct dml_load_opts *o,
			       struct dml_error *err)
{
	/* rows held as bytes, and another input: all as doubles */
	if (d->q && to_doubles(&d->q, &d->x, (size_t)d->cap * d->schema.nfeat,
			       (size_t)d->n * d->schema.nfeat))
		return dml_fail(err, DML_ENOMEM, NULL);
	int isrec = dml_src_is_record(src);
	if (isrec < 0)
		return dml_fail(err, DML_EIO, "%s", strerror(errno));
	struct dml_load_opts so;
	struct dml_rowstore rs = {0};
	int keep = keep_begin(d, o, &so, &rs);
	const struct dml_load_opts *lo = keep ? &so : o;
	enum dml_err rc;
	unsigned char *peek = NULL;
	int svm = 0;
	if (isrec) {
		rc = load_records(d, src, lo, err);
		d->files++;
		d->columns_grow = 0;
	} else if ((svm = dml_svm_detect(src, o->input_format, o->csv.delim,
					 &peek))) {
		rc = svm < 0 ? dml_fail(err, DML_EIO, "%s", strerror(errno))
			     : dml_svm_load(d, src, lo, err);
		d->files++;
	} else {
		/* the parallel reader writes d's rows itself, bytes too */
		if (load_parallel(d, src, o, &rc, err))
			keep = 0;
		else
			rc = load_csv(d, src, lo, err);
		d->files++;
		d->columns_grow = 0;
	}
	free(peek); /* bytes read ahead are read again by now */
	return keep ? keep_end(d, &so, &rs, rc, err) : rc;
}


uint64_t dml_data_leaf(const struct dml_data *d)
{
	return dml_hash_final(&d->hash);
}
