/* csvread.c - libcsv driven one text line at a time, so that every row
 * knows the line it ends on, and rows on a pipe come out as they arrive. */
#include "csvread.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_SIZE (1u << 20)

struct state {
	const struct dml_csv_opts *opts;
	dml_csv_fn header_fn, row_fn;
	void *ctx;
	struct dml_error *err;
	enum dml_err rc;
	uint64_t line;     /* 1-based line being fed */
	uint64_t rows;     /* rows seen, header included */
	uint64_t row_line; /* line on which the current row began */
	char *arena;
	size_t alen, acap;
	size_t *offs;
	char **fields;
	size_t nf, fcap;
	int nul;           /* the current row's bytes hold a NUL somewhere */
};

static int is_space_tab(unsigned char c) { return c == ' '; }

static void on_field(void *s, size_t len, void *data)
{
	struct state *st = data;
	if (st->rc)
		return;
	if (st->nul && len && memchr(s, '\0', len)) {
		st->rc = dml_fail(st->err, DML_ECSV, "NUL byte in a field");
		if (st->err) {
			st->err->line = st->line;
			st->err->column = st->nf + 1;
		}
		return;
	}
	if (st->acap - st->alen < len + 1) {
		size_t cap = st->acap ? st->acap : 4096;
		while (cap - st->alen < len + 1)
			cap *= 2;
		char *a = realloc(st->arena, cap);
		if (!a) {
			st->rc = dml_fail(st->err, DML_ENOMEM, NULL);
			return;
		}
		st->arena = a;
		st->acap = cap;
	}
	if (st->nf == st->fcap) {
		size_t cap = st->fcap ? st->fcap * 2 : 64;
		size_t *o = realloc(st->offs, cap * sizeof *o);
		if (!o) {
			st->rc = dml_fail(st->err, DML_ENOMEM, NULL);
			return;
		}
		st->offs = o;
		char **f = realloc(st->fields, cap * sizeof *f);
		if (!f) {
			st->rc = dml_fail(st->err, DML_ENOMEM, NULL);
			return;
		}
		st->fields = f;
		st->fcap = cap;
	}
	if (st->nf == 0) /* blank lines before the row are skipped */
		st->row_line = st->line;
	if (len)
		memcpy(st->arena + st->alen, s, len);
	st->arena[st->alen + len] = '\0';
	st->offs[st->nf++] = st->alen;
	st->alen += len + 1;
}

static void on_row(int c, void *data)
{
	(void)c;
	struct state *st = data;
	if (st->rc) {
		st->nf = st->alen = 0;
		return;
	}
	for (size_t i = 0; i < st->nf; i++)
		st->fields[i] = st->arena + st->offs[i];
	dml_csv_fn fn = (st->rows == 0 && !st->opts->no_header) ? st->header_fn
								: st->row_fn;
	st->rows++;
	if (fn) {
		enum dml_err rc = fn(st->ctx, st->fields, st->nf, st->line,
				     st->err);
		if (rc) {
			st->rc = rc;
			if (st->err && !st->err->line)
				st->err->line = st->line;
		}
	}
	st->nf = st->alen = 0;
	st->nul = 0;
	st->row_line = st->line + 1; /* the row ended on this line */
}

/* at_end: the input ended inside a quoted field, which may have begun
 * lines before; name the line where its row began. */
static enum dml_err parse_error(struct state *st, struct csv_parser *p,
				int at_end)
{
	int e = csv_error(p);
	if (e == CSV_ENOMEM || e == CSV_ETOOBIG)
		return dml_fail(st->err, DML_ENOMEM, NULL);
	dml_fail(st->err, DML_ECSV, at_end ? "unterminated quoted field"
					   : "malformed quoting");
	if (st->err)
		st->err->line = at_end ? st->row_line : st->line;
	return DML_ECSV;
}

static int parser_init(struct csv_parser *p, const struct dml_csv_opts *o)
{
	unsigned char delim = o->delim ? o->delim : ',';
	if (csv_init(p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return -1;
	csv_set_delim(p, delim);
	csv_set_blk_size(p, 65536); /* long fields grow in large steps */
	/* libcsv's default (space and tab are blanks) is inlined; only a tab
	 * delimiter needs its own rule */
	if (delim == '\t')
		csv_set_space_func(p, is_space_tab);
	return 0;
}

/* Feed [q, end) to libcsv one text line at a time, counting lines: a
 * line ends at LF, CR LF, or a CR alone (old Mac files); a CR that ends
 * one buffer and an LF that starts the next are one line end. */
static void feed(struct state *st, struct csv_parser *p, const char *q,
		 const char *end, int *pending_cr)
{
	while (q < end && !st->rc) {
		if (*pending_cr && *q == '\n') {
			*pending_cr = 0;
			if (csv_parse(p, q, 1, on_field, on_row, st) != 1 &&
			    !st->rc)
				st->rc = parse_error(st, p, 0);
			q++;
			continue;
		}
		*pending_cr = 0;
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		const char *stop = nl ? nl : end;
		const char *cr = memchr(q, '\r', (size_t)(stop - q));
		int lone_cr = 0;
		if (cr && !(nl && cr + 1 == nl)) {
			stop = cr; /* a CR alone ends this line */
			lone_cr = 1;
		}
		size_t n = (size_t)(stop - q) + (stop < end);
		/* fields are searched for a NUL only in a row that has one */
		if (memchr(q, '\0', n))
			st->nul = 1;
		if (csv_parse(p, q, n, on_field, on_row, st) != n && !st->rc)
			st->rc = parse_error(st, p, 0);
		q += n;
		if (lone_cr) {
			st->line++;
			*pending_cr = q == end;
		} else if (nl && stop == nl) {
			st->line++;
		}
	}
}

enum dml_err dml_csv_read(struct dml_src *src,
			  const struct dml_csv_opts *opts,
			  dml_csv_fn header_fn, dml_csv_fn row_fn, void *ctx,
			  struct dml_error *err)
{
	struct state st = {
		.opts = opts, .header_fn = header_fn, .row_fn = row_fn,
		.ctx = ctx, .err = err, .line = 1, .row_line = 1,
	};
	struct csv_parser p;
	if (parser_init(&p, opts))
		return dml_fail(err, DML_ENOMEM, NULL);
	char *buf = malloc(READ_SIZE);
	if (!buf) {
		csv_free(&p);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	int first = 1, pending_cr = 0;
	uint64_t total = 0;
	for (;;) {
		long long got = dml_src_read_some(src, buf, READ_SIZE);
		if (got < 0) {
			st.rc = dml_fail(err, DML_EIO, "%s", strerror(errno));
			break;
		}
		if (got == 0)
			break;
		total += (uint64_t)got;
		char *q = buf, *end = buf + got;
		if (first) {
			first = 0;
			if (got >= 3 && memcmp(q, "\xEF\xBB\xBF", 3) == 0)
				q += 3;
		}
		feed(&st, &p, q, end, &pending_cr);
		if (st.rc)
			break;
	}
	if (!st.rc) {
		if (csv_fini(&p, on_field, on_row, &st) != 0 && !st.rc)
			st.rc = parse_error(&st, &p, 1);
	}
	if (!st.rc && st.rows == 0)
		st.rc = dml_fail(err, DML_EEMPTY, total ? "no rows" : NULL);
	csv_free(&p);
	free(buf);
	free(st.arena);
	free(st.offs);
	free(st.fields);
	return st.rc;
}

enum dml_err dml_csv_parse_lines(const char *q, size_t len,
				 const struct dml_csv_opts *opts,
				 uint64_t first_line, dml_csv_fn row_fn,
				 void *ctx, struct dml_error *err)
{
	struct dml_csv_opts o = *opts;
	o.no_header = 1; /* every row is data */
	struct state st = {
		.opts = &o, .row_fn = row_fn, .ctx = ctx, .err = err,
		.line = first_line, .row_line = first_line,
	};
	struct csv_parser p;
	if (parser_init(&p, opts))
		return dml_fail(err, DML_ENOMEM, NULL);
	int pending_cr = 0;
	feed(&st, &p, q, q + len, &pending_cr);
	if (!st.rc && csv_fini(&p, on_field, on_row, &st) != 0)
		st.rc = parse_error(&st, &p, 1);
	csv_free(&p);
	free(st.arena);
	free(st.offs);
	free(st.fields);
	return st.rc;
}
