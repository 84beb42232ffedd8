/* test-lib.c - unit tests of the dml library, TAP output. */
#include <blis.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "csvread.h"
#include "data.h"
#include "fixed.h"
#include "gemm.h"
#include "hash.h"
#include "numeric.h"
#include "record.h"
#include "statmodel.h"
#include "svmread.h"

static int ntest, nfail;

static void ok(int cond, const char *what)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, what);
}

static void test_crc(void)
{
	ok(dml_crc32c(0, "123456789", 9) == 0xE3069283u,
	   "crc32c check value of '123456789'");
	ok(dml_crc32c(0, "", 0) == 0, "crc32c of nothing is 0");
	/* incremental equals one-shot, at every split and alignment */
	unsigned char buf[300];
	for (int i = 0; i < 300; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	uint32_t whole = dml_crc32c(0, buf + 1, 299);
	int same = 1;
	for (int k = 0; k <= 299; k++)
		same &= dml_crc32c(dml_crc32c(0, buf + 1, (size_t)k),
				   buf + 1 + k, (size_t)(299 - k)) == whole;
	ok(same, "crc32c is the same however the input is split");
	/* long inputs (three interleaved streams) agree with short steps */
	static unsigned char big[100003];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)((i * 2654435761u) >> 13);
	same = 1;
	for (size_t off = 0; off < 3; off++) {
		size_t len = sizeof big - off;
		uint32_t steps = 0;
		for (size_t k = 0; k < len; k += 1000)
			steps = dml_crc32c(steps, big + off + k,
					   len - k < 1000 ? len - k : 1000);
		same &= dml_crc32c(0, big + off, len) == steps;
	}
	ok(same, "crc32c of a long input is the same in short steps");
	same = 1;
	static const size_t cuts[] = { 0, 1, 7, 8, 4096, 12288, 50000, 100003 };
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		size_t a = cuts[i], b = sizeof big - a;
		same &= dml_crc32c_combine(dml_crc32c(0, big, a),
					   dml_crc32c(0, big + a, b), b) ==
			dml_crc32c(0, big, sizeof big);
	}
	ok(same, "crc32c of pieces joined is the crc32c of the whole");
}

static void test_hash(void)
{
	char buf[100];
	for (int i = 0; i < 100; i++)
		buf[i] = (char)i;
	uint64_t whole = dml_hash(buf, 100, 7);
	int same = 1;
	for (int k = 0; k <= 100; k++)
		for (int j = k; j <= 100; j += 13) {
			struct dml_hash h;
			dml_hash_init(&h, 7);
			dml_hash_update(&h, buf, (size_t)k);
			dml_hash_update(&h, buf + k, (size_t)(j - k));
			dml_hash_update(&h, buf + j, (size_t)(100 - j));
			same &= dml_hash_final(&h) == whole;
		}
	ok(same, "hash is independent of how updates split the input");
	ok(dml_hash("a", 1, 7) != dml_hash("b", 1, 7) &&
	   dml_hash("", 0, 7) != dml_hash("\0", 1, 7),
	   "hash tells short inputs apart");
}

static void test_fixed(void)
{
	struct dml_fx a;
	double vals[] = { 0.0, 1.0, -1.0, 0.1, -0.1, 3.0e20, -7.25e-20,
			  123456789.123456789, 0x1p94, -0x1p94, 1e-29 };
	int exact = 1;
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
		dml_fx_from_double(vals[i], &a);
		double back = dml_fx_to_double(&a);
		/* values with bits below 2^-96 are rounded */
		if (fabs(vals[i]) >= 1e-9 || vals[i] == 0)
			exact &= back == vals[i];
	}
	ok(exact, "fixed point round-trips doubles in range");
	ok(dml_fx_from_double(0x1p95, &a) == DML_ERANGE &&
	   dml_fx_from_double(NAN, &a) == DML_ERANGE &&
	   dml_fx_from_double(-INFINITY, &a) == DML_ERANGE,
	   "fixed point refuses 2^95, NaN and infinity");
	/* associativity: the same values in many orders, same bits */
	struct dml_rng r;
	dml_rng_seed(&r, 42);
	enum { N = 1000 };
	double v[N];
	for (int i = 0; i < N; i++)
		v[i] = (dml_rng_unit(&r) - 0.5) *
		       pow(10, (double)dml_rng_below(&r, 30) - 15);
	struct dml_fx ref = {{0}};
	for (int i = 0; i < N; i++) {
		dml_fx_from_double(v[i], &a);
		dml_fx_add(&ref, &a);
	}
	int same = 1;
	for (int t = 0; t < 20; t++) {
		for (int i = N - 1; i > 0; i--) {
			int j = (int)dml_rng_below(&r, (uint64_t)i + 1);
			double tmp = v[i];
			v[i] = v[j];
			v[j] = tmp;
		}
		struct dml_fx s = {{0}}, left = {{0}}, right = {{0}};
		int cut = (int)dml_rng_below(&r, N);
		for (int i = 0; i < cut; i++) {
			dml_fx_from_double(v[i], &a);
			dml_fx_add(&left, &a);
		}
		for (int i = cut; i < N; i++) {
			dml_fx_from_double(v[i], &a);
			dml_fx_add(&right, &a);
		}
		dml_fx_add(&s, &right);
		dml_fx_add(&s, &left);
		same &= !memcmp(&s, &ref, sizeof s);
	}
	ok(same, "fixed-point sums are the same in any order and grouping");
	struct dml_fx big, big2;
	dml_fx_from_double(0x1p94, &big);
	dml_fx_from_double(0x1p94, &big2);
	ok(dml_fx_add(&big, &big2) == DML_ERANGE, "fixed-point overflow is "
	   "detected");
	unsigned char bytes[DML_FX_BYTES];
	dml_fx_from_double(-2.5, &a);
	dml_fx_store(bytes, &a);
	struct dml_fx b;
	dml_fx_load(&b, bytes);
	ok(dml_fx_to_double(&b) == -2.5 && bytes[23] == 0xff &&
	   bytes[12] == 0xfd && bytes[11] == 0x80 && bytes[0] == 0,
	   "fixed point is stored little-endian two's complement");
	/* sums straight from stored bytes: the bits of dml_fx_add, and
	 * an overflow in any position is caught, of either sign */
	static unsigned char sb[N * DML_FX_BYTES];
	struct dml_fx one[N], each[N], *all = calloc(N, sizeof *all);
	for (int i = 0; i < N; i++) {
		dml_fx_from_double(v[i] * 0x1p60, &one[i]);
		dml_fx_store(sb + i * DML_FX_BYTES, &one[i]);
		dml_fx_from_double(v[(i + 7) % N] * 0x1p40, &each[i]);
		all[i] = each[i];
	}
	same = dml_fx_add_bytes(all, sb, N) == DML_OK;
	for (int i = 0; i < N; i++) {
		dml_fx_add(&each[i], &one[i]);
		same &= !memcmp(&each[i], &all[i], sizeof each[i]);
	}
	ok(same, "sums from stored bytes are the sums of dml_fx_add");
	int caught = 1;
	for (int sign = 1; sign >= -1; sign -= 2) {
		memset(all, 0, N * sizeof *all);
		dml_fx_from_double(sign * 0x1.8p94, &all[N / 2]);
		dml_fx_from_double(sign * 0x1.8p94, &one[N / 2]);
		dml_fx_store(sb + (N / 2) * DML_FX_BYTES, &one[N / 2]);
		caught &= dml_fx_add_bytes(all, sb, N) == DML_ERANGE;
	}
	ok(caught, "an overflow among sums from bytes is detected");
	free(all);
}

static void test_record(void)
{
	struct dml_buf b;
	dml_buf_init(&b);
	dml_buf_section(&b, DML_SEC_NOTE, DML_SECF_OPTIONAL);
	dml_buf_str(&b, "hello");
	dml_buf_section(&b, DML_SEC_LEAVES, 0);
	dml_buf_u64(&b, 0);
	struct dml_header h = { .kind = DML_KIND_STATS, .iteration = 3,
				.samples = 10 };
	ok(dml_buf_finish(&b, &h) == DML_OK && b.len == 80 + 32 + 24 + 8,
	   "a record is header, padded sections and trailer");
	struct dml_record rec;
	struct dml_error err;
	size_t used;
	dml_record_init(&rec);
	ok(dml_record_parse(b.p, b.len, &used, &rec, &err) == DML_OK &&
	   used == b.len && rec.h.iteration == 3 && rec.h.nsections == 2,
	   "a record parses back");
	uint32_t known[] = { DML_SEC_LEAVES };
	ok(dml_record_check_known(&rec, known, 1, &err) == DML_OK,
	   "an unknown optional section is skipped");
	int all = 1;
	for (size_t i = 0; i < b.len * 8; i++) {
		b.p[i / 8] ^= (unsigned char)(1u << (i % 8));
		enum dml_err rc = dml_record_parse(b.p, b.len, &used, &rec,
						   &err);
		all &= rc != DML_OK;
		b.p[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	ok(all, "every single flipped bit is detected");
	int cut = 1;
	for (size_t n = 0; n < b.len; n++)
		cut &= dml_record_parse(b.p, n, &used, &rec, &err) != DML_OK;
	ok(cut, "every truncation is detected");
	dml_record_free(&rec);
	dml_buf_free(&b);
}

static void test_parse(void)
{
	struct dml_rng r;
	dml_rng_seed(&r, 2024);
	char buf[64];
	long bad = 0, n = 2000000;
	for (long i = 0; i < n; i++) {
		int len = 0;
		uint64_t kind = dml_rng_below(&r, 6);
		if (dml_rng_below(&r, 4) == 0)
			buf[len++] = dml_rng_below(&r, 2) ? '-' : '+';
		int intd = (int)dml_rng_below(&r, kind == 0 ? 4 : 21);
		for (int k = 0; k < intd; k++)
			buf[len++] = (char)('0' + dml_rng_below(&r, 10));
		if (kind >= 2) {
			buf[len++] = '.';
			int fd = (int)dml_rng_below(&r, 20);
			for (int k = 0; k < fd; k++)
				buf[len++] = (char)('0' + dml_rng_below(&r, 10));
		}
		if (kind >= 4) {
			buf[len++] = dml_rng_below(&r, 2) ? 'e' : 'E';
			if (dml_rng_below(&r, 2))
				buf[len++] = '-';
			int ed = 1 + (int)dml_rng_below(&r, 3);
			for (int k = 0; k < ed; k++)
				buf[len++] = (char)('0' + dml_rng_below(&r, 10));
		}
		buf[len] = '\0';
		double a = 0, b;
		char *end;
		int rc = dml_parse_double(buf, &a);
		b = strtod(buf, &end);
		int valid = end != buf && *end == '\0' && isfinite(b);
		if (valid ? (rc != 0 || memcmp(&a, &b, 8) != 0)
			  : rc == 0) {
			if (bad++ < 5)
				printf("# mismatch on '%s': %.17g vs %.17g (rc %d)\n",
				       buf, a, b, rc);
		}
	}
	ok(bad == 0, "number parsing is bit-identical to strtod on 2,000,000 "
	   "random decimals");
	double v;
	ok(dml_parse_double(" 12 ", &v) == 0 && v == 12 &&
	   dml_parse_double("0x10", &v) == 0 && v == 16 &&
	   dml_parse_double("1e400", &v) == -2 &&
	   dml_parse_double("nan", &v) == -2 &&
	   dml_parse_double("", &v) == -3 &&
	   dml_parse_double("1,5", &v) == -1 &&
	   dml_parse_double("-0", &v) == 0 && signbit(v),
	   "number parsing edge cases");
}

/* ---- CSV: the plain-line path against libcsv alone ---- */

struct rows {
	char *s;
	size_t len, cap;
};

static void put(struct rows *r, const void *p, size_t n)
{
	if (r->cap - r->len < n) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap - r->len < n)
			cap *= 2;
		char *t = realloc(r->s, cap);
		if (!t)
			abort();
		r->s = t;
		r->cap = cap;
	}
	memcpy(r->s + r->len, p, n);
	r->len += n;
}

static enum dml_err put_row(struct rows *r, char kind, char **f, size_t n,
			    uint64_t line)
{
	char head[64];
	int k = snprintf(head, sizeof head, "%c%llu:%zu:", kind,
			 (unsigned long long)line, n);
	put(r, head, (size_t)k);
	for (size_t i = 0; i < n; i++)
		put(r, f[i], strlen(f[i]) + 1);
	return DML_OK;
}

static enum dml_err on_head(void *ctx, char **f, size_t n, uint64_t line,
			    struct dml_error *err)
{
	(void)err;
	return put_row(ctx, 'H', f, n, line);
}

static enum dml_err on_data(void *ctx, char **f, size_t n, uint64_t line,
			    struct dml_error *err)
{
	/* a row whose first field is "x" is refused, as a bad number is */
	if (n > 1 && !strcmp(f[0], "x")) {
		err->column = 1;
		return dml_fail(err, DML_ENUMBER, "refused");
	}
	return put_row(ctx, 'R', f, n, line);
}

static void put_result(struct rows *r, enum dml_err rc,
		       const struct dml_error *e)
{
	char tail[700];
	int k = snprintf(tail, sizeof tail, "=%d %llu:%llu %s", (int)rc,
			 (unsigned long long)e->line,
			 (unsigned long long)e->column, rc ? e->detail : "");
	put(r, tail, (size_t)k);
}

/* Read text through a SOCK_SEQPACKET pair, one message per read, so that
 * the reader's buffers end where the chunks do. */
static void read_chunked(const char *text, size_t len, const size_t *cuts,
			 size_t ncut, int libcsv_only, struct rows *r)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		size_t at = 0;
		for (size_t i = 0; i <= ncut; i++) {
			size_t to = i < ncut ? cuts[i] : len;
			if (to > at && write(sv[1], text + at, to - at) < 0)
				_exit(1);
			at = to > at ? to : at;
		}
		_exit(0);
	}
	close(sv[1]);
	struct dml_csv_opts o = { .libcsv_only = libcsv_only };
	struct dml_src src;
	dml_src_init(&src, sv[0], NULL);
	struct dml_error e = {0};
	enum dml_err rc = dml_csv_read(&src, &o, on_head, on_data, r, &e);
	put_result(r, rc, &e);
	close(sv[0]);
	waitpid(pid, NULL, 0);
}

static void test_csv_plain(void)
{
	static const char alpha[] = "1a,,,\"  \t\r\n\n\nx;";
	struct dml_rng g;
	dml_rng_seed(&g, 77);
	char text[400];
	long bad = 0, n = 200000, nread = 0;
	for (long i = 0; i < n && bad < 5; i++) {
		size_t len = (size_t)dml_rng_below(&g, sizeof text);
		for (size_t j = 0; j < len; j++) {
			uint64_t u = dml_rng_below(&g, 64);
			/* mostly plain text, sometimes anything */
			text[j] = u < 40 ? "12,3,a,,45,x"[u % 12]
				: u < 62 ? alpha[u % (sizeof alpha - 1)]
				: u == 62 ? '\0' : ' ';
		}
		uint64_t dk = dml_rng_below(&g, 6);
		unsigned char delim = dk == 0 ? ';' : dk == 1 ? '\t' : 0;
		struct rows a = {0}, b = {0};
		for (int mode = 0; mode < 2; mode++) {
			struct rows *r = mode ? &b : &a;
			struct dml_csv_opts o = { .delim = delim,
						  .libcsv_only = mode };
			struct dml_error e = {0};
			enum dml_err rc = dml_csv_parse_lines(text, len, &o, 1,
							      on_data, r, &e);
			put_result(r, rc, &e);
		}
		if (a.len != b.len || memcmp(a.s, b.s, a.len)) {
			if (bad++ < 3) {
				printf("# plain CSV lines differ from libcsv "
				       "on case %ld: ", i);
				for (size_t j = 0; j < len; j++)
					printf(isprint((unsigned char)text[j])
					       ? "%c" : "\\x%02x",
					       (unsigned char)text[j]);
				printf("\n# %.*s\n# %.*s\n", (int)a.len, a.s,
				       (int)b.len, b.s);
			}
		}
		free(a.s);
		free(b.s);
		if (i % 100 == 0) { /* through read(2), in chunks */
			size_t cuts[8];
			for (int c = 0; c < 8; c++)
				cuts[c] = len ? (size_t)dml_rng_below(&g, len) : 0;
			for (int c = 1; c < 8; c++) /* ascending */
				for (int d = c; d > 0 && cuts[d] < cuts[d - 1]; d--) {
					size_t t = cuts[d];
					cuts[d] = cuts[d - 1];
					cuts[d - 1] = t;
				}
			struct rows c1 = {0}, c2 = {0};
			read_chunked(text, len, cuts, 8, 0, &c1);
			read_chunked(text, len, cuts, 8, 1, &c2);
			if (c1.len != c2.len || memcmp(c1.s, c2.s, c1.len)) {
				if (bad++ < 3)
					printf("# chunked CSV differs from "
					       "libcsv on case %ld\n", i);
			}
			free(c1.s);
			free(c2.s);
			nread++;
		}
	}
	char what[160];
	snprintf(what, sizeof what, "CSV rows split without libcsv are "
		 "libcsv's rows, errors and lines (%ld inputs, %ld of them "
		 "read in chunks)", n, nread);
	ok(bad == 0, what);
}

/* The eigensolver on a seeded random symmetric matrix with a repeated
 * eigenvalue: A v = w v, V orthonormal, w descending; and AUC ties. */
static void test_symeig(void)
{
	enum { N = 40 };
	static double a[N * N], v[N * N], w[N], q[N * N];
	uint64_t x = 12345;
	/* A = Q diag(d) Q' with Q from Gram-Schmidt of random vectors */
	for (int i = 0; i < N * N; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		q[i] = (double)(x >> 11) / 9007199254740992.0 - 0.5;
	}
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < i; k++) {
			double dot = 0;
			for (int j = 0; j < N; j++)
				dot += q[i * N + j] * q[k * N + j];
			for (int j = 0; j < N; j++)
				q[i * N + j] -= dot * q[k * N + j];
		}
		double nrm = 0;
		for (int j = 0; j < N; j++)
			nrm += q[i * N + j] * q[i * N + j];
		for (int j = 0; j < N; j++)
			q[i * N + j] /= sqrt(nrm);
	}
	double d[N];
	for (int i = 0; i < N; i++)
		d[i] = i == 5 ? 7.0 : i - 10.5; /* 7 appears twice (i = 5, 18) */
	d[18] = 7.0;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < N; k++)
				s += q[k * N + i] * d[k] * q[k * N + j];
			a[i * N + j] = s;
		}
	ok(dml_symeig(a, N, w, v) == DML_OK, "symeig runs");
	double res = 0, orth = 0, wrong = 0;
	for (int i = 0; i < N; i++) {
		for (int r = 0; r < N; r++) {
			double s = 0;
			for (int k = 0; k < N; k++)
				s += a[r * N + k] * v[i * N + k];
			res = fmax(res, fabs(s - w[i] * v[i * N + r]));
		}
		for (int k = 0; k < N; k++) {
			double s = 0;
			for (int j = 0; j < N; j++)
				s += v[i * N + j] * v[k * N + j];
			orth = fmax(orth, fabs(s - (i == k)));
		}
	}
	/* expected spectrum, descending: 28.5 .. -10.5 with 7 twice */
	double want[N];
	for (int i = 0; i < N; i++)
		want[i] = d[i];
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			if (want[j] > want[i]) {
				double t = want[i];
				want[i] = want[j];
				want[j] = t;
			}
	for (int i = 0; i < N; i++)
		wrong = fmax(wrong, fabs(w[i] - want[i]));
	ok(res < 1e-12, "symeig: |A v - w v| < 1e-12");
	ok(orth < 1e-13, "symeig: eigenvectors orthonormal");
	ok(wrong < 1e-12, "symeig: eigenvalues of the planted spectrum");
	double one[1] = { 3 }, vv[1];
	ok(dml_symeig(one, 1, w, vv) == DML_OK && w[0] == 3 && vv[0] == 1,
	   "symeig: 1 x 1");
	double sc[6] = { 1, 2, 2, 3, 0.5, 2 };
	unsigned char y[6] = { 0, 1, 0, 1, 0, 1 };
	/* positives 2 (tied with a negative), 3, 2 (tied): ranks by score
	 * 0.5:1 1:2 2,2,2:4 3:6; positive rank sum 4 + 6 + 4 = 14,
	 * AUC = (14 - 6) / 9 */
	ok(fabs(dml_auc(sc, y, 6) - 8.0 / 9) < 1e-15, "auc: ties average");
	unsigned char y0[6] = { 0 };
	ok(dml_auc(sc, y0, 6) == -1, "auc: one class only");
}

/* Exact statistics against the general conversion, value by value:
 * doubles of every magnitude and sign, zeros, and values below 2^-96;
 * on one thread and on three. */
static void test_stats_exact(void)
{
	enum { R = 700, F = 3 };
	struct dml_data d;
	dml_data_init(&d);
	d.x = malloc(R * F * sizeof *d.x);
	d.n = R;
	static char *names[F] = { "a", "b", "c" };
	d.schema.nfeat = F;
	d.schema.names = names;
	d.schema.label = "";
	uint64_t x = 99;
	for (int i = 0; i < R * F; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		double m = (double)(x >> 11) / 9007199254740992.0;
		int e = (int)((x >> 3) % 141) - 100; /* 2^-100 .. 2^40 */
		d.x[i] = (x & 1 ? -1 : 1) * ldexp(m, e);
		if (i % 17 == 0)
			d.x[i] = 0;
	}
	struct dml_fx want[2 * F + F * (F + 1) / 2];
	memset(want, 0, sizeof want);
	int good = 1;
	for (int r = 0; r < R; r++) {
		const double *v = d.x + r * F;
		int k = 2 * F;
		for (int j = 0; j < F; j++) {
			struct dml_fx f;
			good &= dml_fx_from_double(v[j], &f) == DML_OK;
			dml_fx_add(&want[j], &f);
			good &= dml_fx_from_double(v[j] * v[j], &f) == DML_OK;
			dml_fx_add(&want[F + j], &f);
			for (int l = j; l < F; l++) {
				good &= dml_fx_from_double(v[j] * v[l], &f) ==
					DML_OK;
				dml_fx_add(&want[k++], &f);
			}
		}
	}
	for (uint32_t threads = 1; threads <= 3; threads += 2) {
		struct dml_stats s;
		struct dml_error err;
		int same = dml_stats_exact(&s, &d, 1, threads, &err) == DML_OK;
		same = same && !memcmp(s.sums, want, 2 * F * sizeof *want) &&
		       !memcmp(s.xprod, want + 2 * F,
			       F * (F + 1) / 2 * sizeof *want);
		ok(good && same, threads == 1
		   ? "exact stats: the bits of the general conversion"
		   : "exact stats: the same bits on 3 threads");
		dml_stats_free(&s);
	}
	free(d.x);
}

/* The scores kernel gives BLIS's bits, for shapes around its vector
 * widths, row groups and BLIS's inner blocks. */
static void test_gemm(void)
{
	static const uint32_t ks[] = { 1, 2, 3, 8, 10, 16, 17, 40 };
	static const uint32_t nfs[] = { 1, 5, 255, 256, 300, 321, 784, 1030 };
	struct dml_rng r;
	dml_rng_seed(&r, 7);
	int same = 1;
	for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
		for (size_t b = 0; b < sizeof nfs / sizeof *nfs; b++) {
			uint32_t k = ks[a], nf = nfs[b];
			uint64_t nr = 1 + dml_rng_below(&r, 40);
			double *x = malloc(nr * nf * sizeof *x);
			double *w = malloc((size_t)nf * k * sizeof *w);
			double *z = malloc(2 * nr * k * sizeof *z);
			double *z2 = z + nr * k, one = 1;
			for (uint64_t i = 0; i < nr * nf; i++)
				x[i] = dml_rng_unit(&r) * 255;
			for (uint64_t i = 0; i < (uint64_t)nf * k; i++)
				w[i] = dml_rng_unit(&r) - 0.5;
			for (uint64_t i = 0; i < nr * k; i++)
				z[i] = z2[i] = dml_rng_unit(&r) - 0.5;
			bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE,
				  (dim_t)nr, k, nf, &one, x, nf, 1, w, k, 1,
				  &one, z, k, 1);
			dml_gemm_add(nr, k, nf, x, w, z2);
			same &= !memcmp(z, z2, nr * k * sizeof *z);
			free(x);
			free(w);
			free(z);
		}
	ok(same, "scores of blocks of rows have the bits of BLIS's dgemm");
}

/* The svmlight detector: what it says of the start of an input, as
 * more of it arrives (final 0), at its end (1), at the end of its window
 * (2). */
static void test_svm_sniff(void)
{
	static const struct {
		const char *text;
		unsigned char delim;
		int final, want;
	} cases[] = {
		{ "1 1:2 3:4\n", 0, 0, 1 },
		{ "1 1:2 3:4", 0, 1, 1 },
		{ "1 1:2 3:4", 0, 0, -1 },     /* the line may go on */
		{ "1 1:2 3:4", 0, 2, 1 },      /* judged by its whole tokens */
		{ "1 1:2 3:x4", 0, 2, 1 },     /* the cut token is not judged */
		{ "1 1:2 x 3:4", 0, 0, 0 },    /* a whole token that is not a pair */
		{ "1 1:2 3:4\r\n", 0, 0, 1 },
		{ "1 1:2 \r\r\n", 0, 0, 0 },  /* a token of a CR */
		{ "# c\n\n  \t\n+1 qid:2\n", 0, 0, 1 },
		{ "# c\n", 0, 0, -1 },
		{ "# c\n", 0, 1, 0 },
		{ "\xEF\xBB\xBF" "1 2:3\n", 0, 0, 1 },
		{ "\xEF\xBB", 0, 0, -1 },
		{ "label,1,2\n1,2,3\n", 0, 0, 0 },
		{ "1 1:2,3\n", 0, 0, 0 },       /* a delimiter */
		{ "1 1:2;3\n", ';', 0, 0 },
		{ "1 1:2,3\n", ';', 0, 1 },
		{ "1 1:2 # a, b\n", 0, 0, 1 },  /* delimiters in a comment */
		{ "1:2 3:4\n", 0, 0, 0 },       /* no label */
		{ "1\n2 1:3\n", 0, 0, 0 },     /* a first row of no pairs */
		{ "a b\n", 0, 1, 0 },
		{ "", 0, 1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char what[128];
		int got = dml_svm_sniff(cases[i].text, strlen(cases[i].text),
					cases[i].delim, cases[i].final);
		snprintf(what, sizeof what, "svmlight sniff case %zu: %d", i,
			 cases[i].want);
		ok(got == cases[i].want, what);
	}
}

/* The memory of rows keeps what it holds as it grows past the size where
 * it moves to a mapping of its own, grows there (mremap, or a copy where
 * that fails), and shrinks; every pointer is aligned as malloc's. */
static void test_rows_memory(void)
{
	static const size_t sizes[] = { 8, 1000, 1 << 20, (size_t)8 << 20,
					(size_t)9 << 20, (size_t)40 << 20,
					(size_t)24 << 20, 4096, 100 << 20, 64 };
	unsigned char *p = NULL;
	size_t have = 0;
	int kept = 1, aligned = 1;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char *q = dml_rows_realloc(p, sizes[i]);
		if (!q) {
			ok(0, "rows memory: allocation");
			dml_rows_free(p);
			return;
		}
		aligned &= ((uintptr_t)q % 16) == 0;
		size_t keep = have < sizes[i] ? have : sizes[i];
		for (size_t k = 0; k < keep; k += 4093)
			kept &= q[k] == (unsigned char)(k * 7 + keep % 251);
		if (keep)
			kept &= q[keep - 1] ==
				(unsigned char)((keep - 1) * 7 + keep % 251);
		/* the next round checks what this one writes */
		size_t next = i + 1 < sizeof sizes / sizeof sizes[0]
				      ? sizes[i + 1] : 0;
		size_t mark = next < sizes[i] ? next : sizes[i];
		for (size_t k = 0; k < mark; k += 4093)
			q[k] = (unsigned char)(k * 7 + mark % 251);
		if (mark)
			q[mark - 1] = (unsigned char)((mark - 1) * 7 +
						      mark % 251);
		p = q;
		have = sizes[i];
	}
	dml_rows_free(p);
	dml_rows_free(NULL);
	ok(kept, "rows memory keeps its bytes as it grows and shrinks");
	ok(aligned, "rows memory is 16-byte aligned, as malloc's");
}

/* Rows as bytes while every value is a whole number 0..255, as doubles
 * from the first block with another; the same values either way. */
static void test_rowstore(void)
{
	enum { NF = 3, ROWS = 3000 };
	static const double odd[] = { -0.0, 255.5, 256, -1, 0.5, 1e300 };
	int narrow = 1, same = 1, wide = 1;
	for (size_t o = 0; o <= sizeof odd / sizeof odd[0]; o++) {
		struct dml_rowstore s = {0};
		struct dml_error err = {0};
		double x[64 * NF], all[ROWS * NF];
		uint32_t y[64], ally[ROWS];
		for (uint64_t r0 = 0; r0 < ROWS; r0 += 64) {
			uint64_t n = ROWS - r0 < 64 ? ROWS - r0 : 64;
			for (uint64_t i = 0; i < n * NF; i++)
				x[i] = (double)((r0 * NF + i) * 37 % 256);
			for (uint64_t i = 0; i < n; i++)
				y[i] = (uint32_t)(r0 + i) % 7;
			/* the odd value in a block past the first growth */
			if (o < sizeof odd / sizeof odd[0] && r0 == 2048)
				x[NF + 1] = odd[o];
			memcpy(all + r0 * NF, x, n * NF * sizeof *x);
			memcpy(ally + r0, y, n * sizeof *y);
			if (dml_rowstore_add(&s, x, y, n, NF, &err)) {
				ok(0, "rowstore: add");
				dml_rowstore_free(&s);
				return;
			}
			if (r0 == 1984)
				narrow &= s.q && !s.x;
		}
		if (o == sizeof odd / sizeof odd[0]) {
			narrow &= s.q && !s.x;
			for (size_t i = 0; i < ROWS * NF; i++)
				same &= s.q[i] == (uint8_t)all[i];
		} else {
			wide &= !s.q && s.x;
			for (size_t i = 0; s.x && i < ROWS * NF; i++)
				same &= !memcmp(&s.x[i], &all[i], sizeof *all);
		}
		same &= s.n == ROWS && !memcmp(s.y, ally, sizeof ally);
		dml_rowstore_free(&s);
	}
	ok(narrow, "rowstore keeps whole numbers 0..255 as bytes");
	ok(wide, "rowstore turns to doubles at -0, fractions and values "
	   "outside 0..255");
	ok(same, "rowstore keeps every value and label, bit for bit");

	/* standardizing bytes gives the bits of standardizing doubles */
	struct dml_model m = {0};
	double mean[NF] = { 3.25, 0, 200.0 / 3 }, scale[NF] = { 0.1, 1,
								1 / 7.0 };
	m.schema.nfeat = NF;
	m.mean = mean;
	m.scale = scale;
	uint8_t q[256 * NF];
	double a[256 * NF], b[256 * NF];
	for (size_t i = 0; i < 256 * NF; i++) {
		q[i] = (uint8_t)(i * 101 % 256);
		a[i] = q[i];
	}
	dml_model_standardize(&m, a, 256);
	dml_model_standardize_bytes(&m, q, 256, b);
	ok(!memcmp(a, b, sizeof a), "bytes standardize to the bits of "
	   "doubles");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_crc();
	test_hash();
	test_fixed();
	test_record();
	test_parse();
	test_csv_plain();
	test_symeig();
	test_stats_exact();
	test_gemm();
	test_svm_sniff();
	test_rows_memory();
	test_rowstore();
	printf("1..%d\n", ntest);
	return nfail != 0;
}
