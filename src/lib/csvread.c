/* csvread.c - libcsv driven one text line at a time, so that every row
 * knows the line it ends on, and rows on a pipe come out as they arrive. */
#include "csvread.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define READ_SIZE (1u << 20)
/* A regular file is mapped this many bytes at a time (the fuzz targets
 * set a small window, so that their inputs cross its ends). */
#ifndef DML_CSV_WINDOW
#define DML_CSV_WINDOW ((size_t)4 << 20)
#endif

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
	int busy;          /* libcsv may be inside a row (see feed) */
	uint64_t quotes;   /* quote characters given to libcsv */
	unsigned char delim;
	int plain;         /* plain_row may split lines */
	unsigned char cls[256]; /* for plain_row: CLS_DELIM, CLS_OTHER or 0 */
};

enum { CLS_DELIM = 1, CLS_OTHER = 2 };

/* Every field handed on is followed by FIELD_PAD readable bytes (the next
 * field, or zeros), as dml_parse_field needs. */
#define FIELD_PAD 8

static void state_init(struct state *st, const struct dml_csv_opts *o)
{
	st->delim = o->delim ? o->delim : ',';
	/* a space delimiter meets libcsv's trimming of blanks: libcsv only */
	st->plain = st->delim != ' ' && !o->libcsv_only;
	memset(st->cls, 0, sizeof st->cls);
	st->cls[' '] = st->cls['\t'] = st->cls['"'] = CLS_OTHER;
	st->cls['\0'] = st->cls['\r'] = st->cls['\n'] = CLS_OTHER;
	st->cls[st->delim] = CLS_DELIM;
}

static int is_space_tab(unsigned char c) { return c == ' '; }

static int reserve_arena(struct state *st, size_t len)
{
	if (st->acap - st->alen >= len + 1)
		return 0;
	size_t cap = st->acap ? st->acap : 4096;
	while (cap - st->alen < len + 1)
		cap *= 2;
	char *a = realloc(st->arena, cap);
	if (!a) {
		st->rc = dml_fail(st->err, DML_ENOMEM, NULL);
		return -1;
	}
	st->arena = a;
	st->acap = cap;
	return 0;
}

static int grow_fields(struct state *st)
{
	size_t cap = st->fcap ? st->fcap * 2 : 64;
	size_t *o = realloc(st->offs, cap * sizeof *o);
	if (!o) {
		st->rc = dml_fail(st->err, DML_ENOMEM, NULL);
		return -1;
	}
	st->offs = o;
	char **f = realloc(st->fields, cap * sizeof *f);
	if (!f) {
		st->rc = dml_fail(st->err, DML_ENOMEM, NULL);
		return -1;
	}
	st->fields = f;
	st->fcap = cap;
	return 0;
}

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
	if (reserve_arena(st, len + FIELD_PAD))
		return;
	if (st->nf == st->fcap && grow_fields(st))
		return;
	if (st->nf == 0) /* blank lines before the row are skipped */
		st->row_line = st->line;
	if (len)
		memcpy(st->arena + st->alen, s, len);
	memset(st->arena + st->alen + len, 0, FIELD_PAD + 1);
	st->offs[st->nf++] = st->alen;
	st->alen += len + 1;
}

/* Hand the row in st->fields[0 .. nf) on, and start the next. */
static void deliver(struct state *st)
{
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
	deliver(st);
}

/* The common line, split here rather than by libcsv: one that holds no
 * quote, blank (space or tab), NUL or line end, and is not empty.  For
 * such a line libcsv's fields are exactly the runs between delimiters, so
 * the rows are the same; any other line goes to libcsv.  Returns 0 when
 * the line was not plain (nothing consumed), 1 when it was handed on. */
#ifdef __SSE2__
/* 16 bytes at a time: a mask of the delimiters and one of the bytes that
 * make a line not plain (blanks, controls, quotes; controls other than
 * tab, CR, LF and NUL are plain to libcsv too, but rare enough to leave
 * to it).  The line is in the arena, followed by zeros. */
static size_t split16(char *a, size_t len, unsigned char delim, char **fields)
{
	const __m128i vd = _mm_set1_epi8((char)delim);
	const __m128i vq = _mm_set1_epi8('"');
	const __m128i vsp = _mm_set1_epi8(' ');
	size_t nf = 0, start = 0;
	for (size_t base = 0; base < len; base += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(a + base));
		__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, vsp), v);
		unsigned dm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vd));
		unsigned om = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(low, _mm_cmpeq_epi8(v, vq))) & ~dm;
		if (len - base < 16) {
			unsigned keep = (1u << (len - base)) - 1;
			dm &= keep;
			om &= keep;
		}
		if (om)
			return 0;
		while (dm) {
			size_t i = base + (size_t)__builtin_ctz(dm);
			a[i] = '\0';
			fields[nf++] = a + start;
			start = i + 1;
			dm &= dm - 1;
		}
	}
	fields[nf++] = a + start;
	return nf;
}
#endif

static int plain_row(struct state *st, const char *q, size_t len)
{
	if (len == 0 || !st->plain ||
	    reserve_arena(st, len + FIELD_PAD + 16))
		return 0;
	while (st->fcap < len + 1) /* a field per byte at most */
		if (grow_fields(st))
			return 0;
	char *a = st->arena;
	char **fields = st->fields;
	memcpy(a, q, len);
	memset(a + len, 0, FIELD_PAD + 16);
#ifdef __SSE2__
	size_t nf = split16(a, len, st->delim, fields);
	if (!nf)
		return 0;
#else
	const unsigned char *cls = st->cls;
	/* without a branch per field: field lengths are not predictable */
	size_t nf = 0, start = 0;
	unsigned other = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];
		unsigned k = cls[c];
		unsigned d = k & CLS_DELIM;
		other |= k;
		fields[nf] = a + start;
		a[i] = d ? '\0' : (char)c;
		nf += d;
		start = d ? i + 1 : start;
	}
	if (other & CLS_OTHER)
		return 0;
	fields[nf++] = a + start;
#endif
	st->nf = nf;
	st->row_line = st->line;
	deliver(st);
	return 1;
}

static uint64_t count_quotes(const char *q, size_t n)
{
	uint64_t k = 0;
	const char *end = q + n;
	while ((q = memchr(q, '"', (size_t)(end - q))) != NULL) {
		k++;
		q++;
	}
	return k;
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

/* Feed [q, end) one text line at a time, counting lines: a line ends at
 * LF, CR LF, or a CR alone (old Mac files); a CR that ends one buffer and
 * an LF that starts the next are one line end.  A whole plain line (see
 * plain_row) met while libcsv is between rows is split here; the rest
 * goes to libcsv.  libcsv is between rows after a whole line when it has
 * been given an even number of quotes: outside a quoted field every quote
 * opens one, and inside it every quote closes it or pairs with the next
 * (strict mode rejects a quote anywhere else). */
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
		int whole = stop < end;
		if (!(whole && !st->busy &&
		      plain_row(st, q, (size_t)((cr && cr < stop ? cr : stop) -
						 q)))) {
			/* fields are searched for a NUL only in a row that
			 * has one */
			if (memchr(q, '\0', n))
				st->nul = 1;
			if (csv_parse(p, q, n, on_field, on_row, st) != n &&
			    !st->rc)
				st->rc = parse_error(st, p, 0);
			st->quotes += count_quotes(q, n);
			st->busy = !whole || (st->quotes & 1);
		}
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
	state_init(&st, opts);
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
		/* a regular file is mapped a window at a time, not copied */
		struct dml_src_view view;
		size_t mapped;
		const char *q = dml_src_map(src, DML_CSV_WINDOW, &mapped, &view);
		long long got = (long long)mapped;
		if (!q) {
			got = dml_src_read_some(src, buf, READ_SIZE);
			q = buf;
		}
		if (got < 0) {
			st.rc = dml_fail(err, DML_EIO, "%s", strerror(errno));
			break;
		}
		if (got == 0)
			break;
		total += (uint64_t)got;
		const char *end = q + got;
		if (first) {
			first = 0;
			if (got >= 3 && memcmp(q, "\xEF\xBB\xBF", 3) == 0)
				q += 3;
		}
		feed(&st, &p, q, end, &pending_cr);
		dml_src_unmap(&view);
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
	state_init(&st, opts);
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
