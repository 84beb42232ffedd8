/* dml-partition - split CSV data into N shards, streaming. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "csvread.h"
#include "data.h"
#include "numeric.h"
#include "svmread.h"

enum strategy {
	S_ROUND_ROBIN, S_HASH, S_RANDOM, S_RANGE, S_STRATIFIED, S_BOOTSTRAP,
};

static const char *strategy_names[] = {
	"round-robin", "hash", "random", "range", "stratified", "bootstrap",
	NULL,
};

struct shard {
	struct cli_out out; /* a file */
	FILE *pipe;         /* or a --filter command */
	FILE *f;
	char *name;
	struct dml_block block; /* --format bin: rows not yet written */
};

struct part {
	enum strategy strategy;
	uint64_t n;
	uint64_t nout;      /* shards, then --oob shards */
	const char *key, *label, *pattern, *filter, *oob;
	double fraction;    /* -s bootstrap: sample size / input rows */
	uint64_t *draws;    /* -s bootstrap: draws left per sample */
	struct dml_csv_opts csv;
	unsigned char delim;
	struct shard *shards;
	struct dml_rng rng;
	/* per input */
	char **header;
	size_t ncols;
	int64_t key_col;
	uint64_t row, total;
	struct dml_strtab classes;
	uint64_t *class_count;
	uint32_t class_cap;
	/* --format bin */
	int bin;
	uint32_t dtype;
	struct dml_colmap map;
	struct dml_schema schema;
	double *x;
	const char *xlabel;
	int started;
	const char *input;
	/* svmlight input */
	int svm;            /* -1 not known yet, 0 CSV, 1 svmlight */
	uint32_t svm_key;   /* -s hash: the feature index hashed, 0 label */
	uint32_t svm_max;   /* the largest index seen by a first pass */
	uint32_t svm_nf;    /* --format bin: the features of the shards */
	const struct dml_svm_row *cur;
};

static void free_part(struct part *pt)
{
	for (uint64_t i = 0; pt->shards && i < pt->nout; i++)
		free(pt->shards[i].name);
	free(pt->draws);
	free(pt->shards);
	for (size_t i = 0; pt->header && i < pt->ncols; i++)
		free(pt->header[i]);
	free(pt->header);
	dml_strtab_free(&pt->classes);
	free(pt->class_count);
	dml_colmap_free(&pt->map);
	dml_schema_free(&pt->schema);
	free(pt->x);
}

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	printf("Usage: %s -n N [OPTION]... [FILE]...\n", cli_prog);
	fputs("Split CSV rows from the FILEs (standard input if none) into N shards,\n"
	      "each a CSV file with the header repeated.  Streams: memory does not\n"
	      "grow with the input.  svmlight lines (LABEL INDEX:VALUE ...) go to\n"
	      "the shards as they are; -k label or -k INDEX keys them for -s hash.\n"
	      "\n"
	      "Options:\n"
	      "  -n, --shards=N          number of shards (required)\n"
	      "  -s, --strategy=NAME     round-robin (default), hash (of the -k column),\n"
	      "                            random (seeded), range (contiguous blocks),\n"
	      "                            stratified (round-robin within each label),\n"
	      "                            bootstrap (N samples drawn with replacement)\n"
	      "  -k, --key=COLUMN        column hashed by -s hash (name or number)\n"
	      "  -y, --label=COLUMN      label column for -s stratified\n"
	      "      --seed=S            seed for -s random and bootstrap (default 1)\n"
	      "      --fraction=F        -s bootstrap: rows in each sample, as a\n"
	      "                            fraction of the input's (default 1)\n"
	      "      --oob=PATTERN       -s bootstrap: also write each sample's\n"
	      "                            out-of-bag rows (those it never drew), with\n"
	      "                            one %d for the sample number\n"
	      "  -o, --output=PATTERN    shard file names, with one %d for the shard\n"
	      "                            number from 0 (default shard-%d.csv); files\n"
	      "                            appear whole or not at all\n"
	      "      --filter=CMD        pipe shard i into the shell command CMD, with\n"
	      "                            DML_SHARD=i in its environment\n"
	      "  -f, --format=FORMAT     csv (default) or bin: binary data records,\n"
	      "                            rows in blocks of 4096, which every dml\n"
	      "                            reader detects; -y names the label column\n"
	      "      --dtype=TYPE        value type of --format bin: f32 (default)\n"
	      "                            or f64\n"
	      "  -d, --delimiter=CHAR    field delimiter (default ','; 'tab' for tab)\n"
	      "      --no-header         the input has no header row\n"
	      "      --input-format=FMT  auto (default: svmlight by its look, else\n"
	      "                            CSV), csv or svmlight\n"
	      "      --features=N        svmlight: the number of features (--format bin\n"
	      "                            reads a regular file twice without it)\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "Examples:\n"
	      "  dml-partition -n 4 -o 'shard-%d.csv' train.csv\n"
	      "  dml-partition -n 1 -f bin -y label -o train.bin train.csv\n"
	      "  dml-partition -n 10 -s bootstrap --oob 'oob-%d.csv' -o 'bag-%d.csv' \\\n"
	      "    train.csv\n"
	      "  dml-partition -n 2 -s stratified -y label \\\n"
	      "    --filter 'ssh worker$DML_SHARD \"cat > shard.csv\"' train.csv\n"
	      "\n"
	      "See dml-partition(1).\n",
	      stdout);
	exit(0);
}

enum {
	OPT_SEED = 256, OPT_FILTER, OPT_NO_HEADER, OPT_DTYPE, OPT_FRACTION,
	OPT_OOB, OPT_INPUT_FORMAT, OPT_FEATURES,
};

static const struct option longopts[] = {
	{ "shards", required_argument, NULL, 'n' },
	{ "strategy", required_argument, NULL, 's' },
	{ "key", required_argument, NULL, 'k' },
	{ "label", required_argument, NULL, 'y' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "output", required_argument, NULL, 'o' },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "format", required_argument, NULL, 'f' },
	{ "dtype", required_argument, NULL, OPT_DTYPE },
	{ "fraction", required_argument, NULL, OPT_FRACTION },
	{ "oob", required_argument, NULL, OPT_OOB },
	{ "delimiter", required_argument, NULL, 'd' },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "input-format", required_argument, NULL, OPT_INPUT_FORMAT },
	{ "features", required_argument, NULL, OPT_FEATURES },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* A pattern must hold exactly one %d (with optional zero-padded width);
 * with one shard it may also be a plain file name. */
static void check_pattern(const char *opt, const char *p, uint64_t n)
{
	if (n == 1 && !strchr(p, '%'))
		return;
	int conv = 0;
	for (const char *s = p; *s; s++) {
		if (*s != '%')
			continue;
		if (s[1] == '%') {
			s++;
			continue;
		}
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
		if (*s != 'd')
			cli_usage("%s: '%s' may hold only %%d (and %%%%)", opt,
				  p);
		conv++;
	}
	if (conv != 1)
		cli_usage("%s: '%s' must hold exactly one %%d", opt, p);
}

static void open_shards(struct part *pt)
{
	pt->shards = calloc(pt->nout, sizeof *pt->shards);
	if (!pt->shards)
		cli_die("out of memory");
	for (uint64_t i = 0; i < pt->nout; i++) {
		struct shard *s = &pt->shards[i];
		const char *pattern = i < pt->n ? pt->pattern : pt->oob;
		int num = (int)(i < pt->n ? i : i - pt->n);
		if (pt->filter && i < pt->n) {
			char num[32];
			snprintf(num, sizeof num, "%llu", (unsigned long long)i);
			setenv("DML_SHARD", num, 1);
			fflush(NULL);
			s->pipe = popen(pt->filter, "w");
			if (!s->pipe)
				cli_die("--filter: cannot start '%s': %s",
					pt->filter, strerror(errno));
			s->f = s->pipe;
			continue;
		}
		if (strchr(pattern, '%')) {
			int len = snprintf(NULL, 0, pattern, num);
			s->name = malloc((size_t)len + 1);
			if (!s->name)
				cli_die("out of memory");
			snprintf(s->name, (size_t)len + 1, pattern, num);
		} else if (!(s->name = strdup(pattern))) {
			cli_die("out of memory");
		}
		cli_out_open(&s->out, s->name);
		s->f = s->out.f;
		setvbuf(s->f, NULL, _IOFBF, 1 << 16);
	}
}

static void put_field(FILE *f, const char *s, unsigned char delim)
{
	int quote = *s == ' ' || (*s && s[strlen(s) - 1] == ' ');
	for (const char *p = s; *p && !quote; p++)
		quote = *p == (char)delim || *p == '"' || *p == '\n' ||
			*p == '\r';
	if (!quote) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', f);
		putc(*s, f);
	}
	putc('"', f);
}

static void put_row(struct part *pt, FILE *f, char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			putc(pt->delim, f);
		put_field(f, fields[i], pt->delim);
	}
	putc('\n', f);
}

static int64_t find_col(char **names, size_t n, const char *want,
			int header)
{
	if (header)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(names[i], want))
				return (int64_t)i;
	char *end;
	unsigned long long k = strtoull(want, &end, 10);
	if (*want && !*end && k >= 1 && k <= n)
		return (int64_t)k - 1;
	return -1;
}

static enum dml_err on_header(void *ctx, char **f, size_t n, uint64_t line,
			      struct dml_error *err)
{
	(void)line;
	struct part *pt = ctx;
	if (pt->header) {
		/* a later input: its header must match the first */
		int same = n == pt->ncols;
		for (size_t i = 0; same && i < n; i++)
			same = !strcmp(f[i], pt->header[i]);
		if (!same)
			return dml_fail(err, DML_ESCHEMA,
					"header differs from the first "
					"input's");
		return DML_OK;
	}
	pt->ncols = n;
	pt->header = calloc(n, sizeof *pt->header);
	if (!pt->header)
		return dml_fail(err, DML_ENOMEM, NULL);
	for (size_t i = 0; i < n; i++)
		if (!(pt->header[i] = strdup(f ? f[i] : "")))
			return dml_fail(err, DML_ENOMEM, NULL);
	const char *want = pt->strategy == S_HASH ? pt->key
			   : pt->strategy == S_STRATIFIED ? pt->label : NULL;
	if (want) {
		pt->key_col = find_col(f, n, want, f != NULL);
		if (pt->key_col < 0)
			return dml_fail(err, DML_ENOCOLUMN,
					"column '%s' not found", want);
	}
	if (pt->bin) {
		struct dml_load_opts lo = { .csv = pt->csv, .label = pt->label };
		enum dml_err rc = dml_colmap_build(&pt->map, f, n, &lo,
						   &pt->schema, err);
		if (rc)
			return rc;
		pt->x = malloc(((size_t)pt->schema.nfeat + 1) * sizeof *pt->x);
		if (!pt->x)
			return dml_fail(err, DML_ENOMEM, NULL);
		for (uint64_t i = 0; i < pt->nout; i++)
			if (dml_block_init(&pt->shards[i].block,
					   pt->schema.nfeat, pt->dtype,
					   pt->map.label_col >= 0))
				return dml_fail(err, DML_ENOMEM, NULL);
		return DML_OK;
	}
	if (f)
		for (uint64_t i = 0; i < pt->nout; i++)
			put_row(pt, pt->shards[i].f, f, n);
	return DML_OK;
}

/* Write a shard's pending rows as one data record. */
static enum dml_err flush_block(struct part *pt, uint64_t i,
				struct dml_error *err)
{
	struct shard *s = &pt->shards[i];
	if (s->block.n == 0)
		return DML_OK;
	struct dml_buf b;
	enum dml_err rc = dml_block_encode(&s->block, &pt->schema, &b);
	if (!rc && fwrite(b.p, 1, b.len, s->f) != b.len)
		rc = dml_fail(err, DML_EIO, "cannot write shard %llu: %s",
			      (unsigned long long)i, strerror(errno));
	dml_buf_free(&b);
	return rc == DML_ENOMEM ? dml_fail(err, rc, NULL) : rc;
}

/* --format bin: the row's values into pt->x and pt->xlabel. */
static enum dml_err convert_row(struct part *pt, char **f, size_t n,
				struct dml_error *err)
{
	if (pt->svm > 0) { /* indices are within svm_nf (the reader's limit) */
		memset(pt->x, 0, (size_t)pt->svm_nf * sizeof *pt->x);
		for (size_t i = 0; i < pt->cur->n; i++)
			pt->x[pt->cur->idx[i] - 1] = pt->cur->val[i];
		pt->xlabel = pt->cur->label;
		return DML_OK;
	}
	return dml_colmap_row(&pt->map, f, n, pt->x, &pt->xlabel, err);
}

/* Append the current row to output i (converted first for bin). */
static enum dml_err write_row(struct part *pt, uint64_t i, char **f,
			      size_t n, struct dml_error *err)
{
	struct shard *s = &pt->shards[i];
	if (pt->bin) {
		enum dml_err rc = dml_block_add(&s->block, pt->x, pt->xlabel);
		if (rc == DML_ERANGE)
			return dml_fail(err, rc, "a value beyond the range of "
					"f32 (use --dtype f64)");
		if (rc)
			return dml_fail(err, DML_ENOMEM, NULL);
		if (s->block.n == s->block.cap)
			return flush_block(pt, i, err);
		return DML_OK;
	}
	if (pt->svm > 0) { /* the line as it came */
		fwrite(pt->cur->text, 1, pt->cur->len, s->f);
		putc('\n', s->f);
	} else {
		put_row(pt, s->f, f, n);
	}
	if (ferror(s->f))
		return dml_fail(err, DML_EIO, "cannot write %sshard %llu: %s",
				i < pt->n ? "" : "the out-of-bag rows of ",
				(unsigned long long)(i < pt->n ? i : i - pt->n),
				strerror(errno));
	return DML_OK;
}

/* k ~ Binomial(d, p) by inversion: few steps, since d * p is about the
 * sample fraction. */
static uint64_t binomial(struct dml_rng *rng, uint64_t d, double p)
{
	if (d == 0 || p <= 0)
		return 0;
	if (p >= 1)
		return d;
	double u = dml_rng_unit(rng);
	double q = p / (1 - p);
	double pk = exp((double)d * log1p(-p)), cdf = pk;
	uint64_t k = 0;
	while (u >= cdf && k < d) {
		pk *= (double)(d - k) / (double)(k + 1) * q;
		k++;
		cdf += pk;
		if (pk == 0 && cdf < u) /* rounding left u beyond the total */
			break;
	}
	return k;
}

/* Sample i has draws[i] draws left for the rows from this one on: it
 * takes Binomial(draws, 1/rows left) copies of this row, which makes the
 * whole an exact multinomial draw of its size, in one pass. */
static enum dml_err bootstrap_row(struct part *pt, char **f, size_t n,
				  struct dml_error *err)
{
	uint64_t left = pt->total > pt->row ? pt->total - pt->row : 1;
	pt->row++;
	enum dml_err rc;
	if (pt->bin && (rc = convert_row(pt, f, n, err)))
		return rc;
	for (uint64_t i = 0; i < pt->n; i++) {
		uint64_t k = binomial(&pt->rng, pt->draws[i],
				      1.0 / (double)left);
		pt->draws[i] -= k;
		for (uint64_t c = 0; c < k; c++)
			if ((rc = write_row(pt, i, f, n, err)))
				return rc;
		if (k == 0 && pt->oob &&
		    (rc = write_row(pt, pt->n + i, f, n, err)))
			return rc;
	}
	return DML_OK;
}

static enum dml_err on_row(void *ctx, char **f, size_t n, uint64_t line,
			   struct dml_error *err)
{
	struct part *pt = ctx;
	enum dml_err rc;
	if (!pt->header && (rc = on_header(ctx, NULL, n, line, err)))
		return rc;
	if (n != pt->ncols)
		return dml_fail(err, DML_EFIELDS,
				"expected %zu fields, found %zu", pt->ncols, n);
	uint64_t shard = 0;
	switch (pt->strategy) {
	case S_ROUND_ROBIN:
		shard = pt->row % pt->n;
		break;
	case S_HASH:
		shard = dml_hash(f[pt->key_col], strlen(f[pt->key_col]),
				 DML_HASH_SEED) % pt->n;
		break;
	case S_RANDOM:
		shard = dml_rng_below(&pt->rng, pt->n);
		break;
	case S_RANGE:
		shard = (uint64_t)((unsigned __int128)pt->row * pt->n /
				   (pt->total ? pt->total : 1));
		if (shard >= pt->n) /* the input grew since it was counted */
			shard = pt->n - 1;
		break;
	case S_STRATIFIED: {
		uint32_t id = dml_strtab_intern(&pt->classes, f[pt->key_col]);
		if (id == UINT32_MAX)
			return dml_fail(err, DML_ENOMEM, NULL);
		if (id >= pt->class_cap) {
			uint32_t cap = pt->class_cap ? pt->class_cap * 2 : 64;
			while (cap <= id)
				cap *= 2;
			uint64_t *c = realloc(pt->class_count,
					      cap * sizeof *c);
			if (!c)
				return dml_fail(err, DML_ENOMEM, NULL);
			memset(c + pt->class_cap, 0,
			       (cap - pt->class_cap) * sizeof *c);
			pt->class_count = c;
			pt->class_cap = cap;
		}
		shard = (pt->class_count[id]++ + id) % pt->n;
		break;
	}
	case S_BOOTSTRAP:
		return bootstrap_row(pt, f, n, err);
	}
	pt->row++;
	if (pt->bin && (rc = convert_row(pt, f, n, err)))
		return rc;
	return write_row(pt, shard, f, n, err);
}

/* An svmlight row, routed by on_row as the fields label and key. */
static enum dml_err on_svm_row(void *ctx, const struct dml_svm_row *r,
			       uint64_t line, struct dml_error *err)
{
	struct part *pt = ctx;
	char key[40] = "0";
	char *f[2] = { (char *)r->label, pt->svm_key ? key : (char *)r->label };
	for (size_t i = 0; pt->svm_key && i < r->n; i++)
		if (r->idx[i] == pt->svm_key)
			snprintf(key, sizeof key, "%.17g", r->val[i]);
	pt->cur = r;
	return on_row(ctx, f, 2, line, err);
}

static enum dml_err count_svm(void *ctx, const struct dml_svm_row *r,
			      uint64_t line, struct dml_error *err)
{
	(void)line; (void)err;
	struct part *pt = ctx;
	pt->total++;
	if (r->n && r->idx[r->n - 1] > pt->svm_max)
		pt->svm_max = r->idx[r->n - 1];
	return DML_OK;
}

/* The inputs are svmlight: rows routed by label (and key), and with
 * --format bin, shards of nf features named 1..nf. */
static void svm_setup(struct part *pt)
{
	pt->ncols = 2;
	pt->header = calloc(2, sizeof *pt->header);
	if (!pt->header || !(pt->header[0] = strdup("")) ||
	    !(pt->header[1] = strdup("")))
		cli_die("out of memory");
	pt->key_col = pt->strategy == S_HASH ? 1 : 0;
	if (pt->strategy == S_HASH && strcmp(pt->key, "label") &&
	    !(pt->label && !strcmp(pt->key, pt->label))) {
		char *end;
		unsigned long long k = strtoull(pt->key, &end, 10);
		if (!*pt->key || *end || k < 1 || k > DML_SVM_MAX_FEATURES)
			cli_usage("-k: '%s': svmlight rows are keyed by "
				  "'label' or a feature index", pt->key);
		pt->svm_key = (uint32_t)k;
	}
}

static void svm_setup_bin(struct part *pt, uint32_t nf)
{
	pt->svm_nf = nf;
	struct dml_schema *s = &pt->schema;
	s->nfeat = nf;
	s->names = calloc((size_t)nf + 1, sizeof *s->names);
	s->label = strdup(pt->label ? pt->label : "label");
	pt->x = malloc(((size_t)nf + 1) * sizeof *pt->x);
	if (!s->names || !s->label || !pt->x)
		cli_die("out of memory");
	for (uint32_t f = 0; f < nf; f++) {
		char buf[16];
		snprintf(buf, sizeof buf, "%lu", (unsigned long)f + 1);
		if (!(s->names[f] = strdup(buf)))
			cli_die("out of memory");
	}
	dml_schema_fingerprint(s);
	for (uint64_t i = 0; i < pt->nout; i++)
		if (dml_block_init(&pt->shards[i].block, nf, pt->dtype, 1))
			cli_die("out of memory");
}

/* Is this input svmlight?  All inputs must be of one kind. */
static int input_svm(struct part *pt, struct dml_src *src, const char *path,
		     unsigned char **peek)
{
	int svm = dml_svm_detect(src, cli_input_format, pt->delim, peek);
	if (svm < 0)
		cli_die("%s: %s", cli_name(path), strerror(errno));
	if (pt->svm >= 0 && svm != pt->svm)
		cli_die("%s: is %s, the first input %s: inputs do not mix",
			cli_name(path), svm ? "svmlight" : "CSV",
			pt->svm ? "svmlight" : "CSV");
	if (pt->svm < 0) {
		pt->svm = svm;
		if (svm)
			svm_setup(pt);
	}
	return svm;
}

static int is_regular(FILE *f)
{
	struct stat st;
	return fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
}

static enum dml_err count_rows(void *ctx, char **f, size_t n, uint64_t line,
			       struct dml_error *err)
{
	(void)f; (void)n; (void)line; (void)err;
	((struct part *)ctx)->total++;
	return DML_OK;
}

/* For -s range: a seekable copy of the input to count rows first. */
static FILE *seekable(const char *path, FILE *f)
{
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		return f;
	FILE *t = tmpfile();
	if (!t)
		cli_die("cannot create a temporary file: %s", strerror(errno));
	char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		if (fwrite(buf, 1, n, t) != n)
			cli_die("temporary file: %s", strerror(errno));
	if (ferror(f))
		cli_die("%s: %s", cli_name(path), strerror(errno));
	if (fflush(t) != 0 || lseek(fileno(t), 0, SEEK_SET) != 0)
		cli_die("temporary file: %s", strerror(errno));
	return t;
}

int main(int argc, char **argv)
{
	struct part pt = { .pattern = "shard-%d.csv", .key_col = -1,
			   .svm = -1 };
	uint64_t seed = 1;
	int c;
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "n:s:k:y:o:f:d:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'n':
			pt.n = cli_uint("--shards", optarg, 1, 100000);
			break;
		case 's': {
			int i;
			for (i = 0; strategy_names[i] &&
				    strcmp(strategy_names[i], optarg); i++)
				;
			if (!strategy_names[i])
				cli_usage("--strategy: unknown strategy '%s' "
					  "(round-robin, hash, random, range, "
					  "stratified, bootstrap)", optarg);
			pt.strategy = (enum strategy)i;
			break;
		}
		case 'k': pt.key = optarg; break;
		case 'y': pt.label = optarg; break;
		case OPT_SEED:
			seed = cli_uint("--seed", optarg, 0, UINT64_MAX);
			break;
		case 'o': pt.pattern = optarg; break;
		case OPT_FILTER: pt.filter = optarg; break;
		case OPT_FRACTION:
			pt.fraction = cli_double("--fraction", optarg, 1e-9,
						 1000);
			break;
		case OPT_OOB: pt.oob = optarg; break;
		case 'f':
			if (!strcmp(optarg, "bin"))
				pt.bin = 1;
			else if (strcmp(optarg, "csv"))
				cli_usage("--format: unknown format '%s' (csv, "
					  "bin)", optarg);
			break;
		case OPT_DTYPE:
			if (!strcmp(optarg, "f32"))
				pt.dtype = DML_F32;
			else if (!strcmp(optarg, "f64"))
				pt.dtype = DML_F64;
			else
				cli_usage("--dtype: unknown type '%s' (f32, "
					  "f64)", optarg);
			break;
		case 'd': pt.csv.delim = cli_delimiter(optarg); break;
		case OPT_NO_HEADER: pt.csv.no_header = 1; break;
		case OPT_INPUT_FORMAT: cli_set_input_format(optarg); break;
		case OPT_FEATURES: cli_set_features(optarg); break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	if (!pt.n)
		cli_usage("the number of shards is missing (-n)");
	if (pt.strategy == S_HASH && !pt.key)
		cli_usage("-s hash needs the key column (-k)");
	if (pt.strategy == S_STRATIFIED && !pt.label &&
	    !cli_svm_input(argv + optind, argc - optind, pt.csv.delim))
		cli_usage("-s stratified needs the label column (-y)");
	if (pt.dtype && !pt.bin)
		cli_usage("--dtype goes with --format bin");
	if (!pt.dtype)
		pt.dtype = DML_F32;
	if ((pt.fraction || pt.oob) && pt.strategy != S_BOOTSTRAP)
		cli_usage("%s goes with -s bootstrap",
			  pt.oob ? "--oob" : "--fraction");
	if (!pt.fraction)
		pt.fraction = 1;
	check_pattern("--output", pt.pattern, pt.n);
	if (pt.oob) {
		check_pattern("--oob", pt.oob, pt.n);
		if (!strcmp(pt.oob, pt.pattern))
			cli_usage("--oob and --output name the same files");
	}
	pt.nout = pt.oob ? 2 * pt.n : pt.n;
	pt.delim = pt.csv.delim ? pt.csv.delim : ',';
	char svm_why[64];
	if (cli_features)
		snprintf(svm_why, sizeof svm_why, "--features %lu",
			 (unsigned long)cli_features);
	else
		snprintf(svm_why, sizeof svm_why, "the limit of %lu features",
			 (unsigned long)DML_SVM_MAX_FEATURES);
	dml_rng_seed(&pt.rng, seed);
	signal(SIGPIPE, SIG_IGN);
	char *dash[] = { "-" };
	char **files = optind < argc ? argv + optind : dash;
	int nfiles = optind < argc ? argc - optind : 1;
	FILE **in = calloc((size_t)nfiles, sizeof *in);
	if (!in)
		cli_die("out of memory");
	for (int i = 0; i < nfiles; i++) {
		in[i] = cli_open(files[i]);
		int count = pt.strategy == S_RANGE ||
			    pt.strategy == S_BOOTSTRAP;
		if (count)
			in[i] = seekable(files[i], in[i]);
		if (!is_regular(in[i]))
			continue; /* told apart as it is read */
		struct dml_src src;
		unsigned char *peek = NULL;
		dml_src_init(&src, fileno(in[i]), NULL);
		int svm = input_svm(&pt, &src, files[i], &peek);
		free(peek);
		if (!count && !(svm && pt.bin && !cli_features))
			continue;
		/* a first pass: the rows, and the largest index */
		struct dml_error err = {0};
		dml_src_init(&src, fileno(in[i]), NULL);
		enum dml_err rc = svm ? dml_svm_read(&src, cli_features ?
						     cli_features :
						     DML_SVM_MAX_FEATURES,
						     svm_why, count_svm, &pt,
						     &err)
				  : dml_csv_read(&src, &pt.csv, NULL,
						 count_rows, &pt, &err);
		if (rc && rc != DML_EEMPTY)
			cli_die_err(&err, cli_name(files[i]));
		if (lseek(fileno(in[i]), 0, SEEK_SET) != 0)
			cli_die("%s: cannot rewind: %s",
				cli_name(files[i]), strerror(errno));
	}
	if (pt.strategy == S_BOOTSTRAP) {
		pt.draws = malloc(pt.n * sizeof *pt.draws);
		if (!pt.draws)
			cli_die("out of memory");
		double m = nearbyint(pt.fraction * (double)pt.total);
		for (uint64_t i = 0; i < pt.n; i++)
			pt.draws[i] = (uint64_t)m;
	}
	open_shards(&pt);
	for (int i = 0; i < nfiles; i++) {
		struct dml_error err = {0};
		struct dml_src src;
		unsigned char *peek = NULL;
		dml_src_init(&src, fileno(in[i]), NULL);
		int svm = input_svm(&pt, &src, files[i], &peek);
		if (svm && pt.bin && !pt.svm_nf) {
			if (!cli_features && !is_regular(in[i]))
				cli_usage("%s: svmlight input that is not a "
					  "regular file needs --features N "
					  "with --format bin",
					  cli_name(files[i]));
			svm_setup_bin(&pt, cli_features ? cli_features
							: pt.svm_max);
		}
		char why[64];
		if (svm && pt.bin && !cli_features)
			snprintf(why, sizeof why, "the largest index of the "
				 "inputs, %lu", (unsigned long)pt.svm_nf);
		enum dml_err rc = !svm ? dml_csv_read(&src, &pt.csv, on_header,
						      on_row, &pt, &err)
				  : dml_svm_read(&src, pt.bin ? pt.svm_nf
						 : cli_features ? cli_features
						 : DML_SVM_MAX_FEATURES,
						 pt.bin && !cli_features ? why
						 : svm_why, on_svm_row, &pt,
						 &err);
		free(peek);
		if (rc == DML_EEMPTY && !err.detail[0])
			cli_die("%s: empty input", cli_name(files[i]));
		if (rc && rc != DML_EEMPTY)
			cli_die_err(&err, cli_name(files[i]));
		if (in[i] != stdin)
			fclose(in[i]);
	}
	for (uint64_t i = 0; pt.bin && i < pt.nout; i++) {
		struct dml_error err = {0};
		if (flush_block(&pt, i, &err))
			cli_die_err(&err, "output");
		dml_block_free(&pt.shards[i].block);
	}
	for (uint64_t i = 0; i < pt.n; i++) {
		struct shard *s = &pt.shards[i];
		if (s->pipe) {
			int st = pclose(s->pipe);
			if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
				cli_die("--filter: command for shard %llu "
					"failed (status %d)",
					(unsigned long long)i,
					st == -1 ? -1
					: WIFEXITED(st) ? WEXITSTATUS(st)
							: 128 + WTERMSIG(st));
		}
	}
	for (uint64_t i = 0; i < pt.nout; i++)
		if (!pt.shards[i].pipe)
			cli_out_commit(&pt.shards[i].out);
	free(in);
	free_part(&pt);
	return 0;
}
