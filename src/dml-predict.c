/* dml-predict - predictions or metrics of a model on CSV rows. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli-kmeans.h"
#include "crc32c.h"
#include "csvread.h"
#include "mlp.h"
#include "model.h"
#include "numeric.h"
#include "statmodel.h"
#include "svmread.h"
#include "threads.h"
#include "tree.h"

#define BATCH 256
#define MAX_THREADS 1024
#define SUBROWS 16 /* rows checksummed and converted in one go */

struct pred {
	struct dml_ensemble ens;
	const struct dml_model *first;
	struct dml_load_opts lo;
	struct dml_colmap map;
	int have_map;
	int eval, proba, verbose, stream;
	const char *input;
	uint32_t nf, nc;
	/* batch */
	double *x, *p;
	int64_t *y;
	uint64_t nb, batch;
	/* metrics */
	uint64_t rows, correct, unknown;
	double logloss;
	uint64_t *confusion;
	/* regression */
	int reg, margin;
	double *t;
	long double sse, sae, st, st2;
	/* scaler, gaussian and pca models */
	struct dml_smodel sm;
	int is_sm, has_threshold;
	struct dml_model fake;    /* the schema and 0/1 labels for reading */
	double threshold;
	double *score;
	unsigned char *sy;
	uint64_t nscore, capscore;
	/* whole data records at once, on threads */
	uint32_t threads;
	int whole_records;     /* s->p of the pending rows is already there */
	double *rp, *tx[MAX_THREADS];
	uint64_t rpcap;
	uint32_t *crcs;
	uint64_t crccap;
	/* svmlight input: index -> feature (NULL: index - 1) */
	int64_t *svm_map;
	uint32_t svm_nmap;
};

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	printf("Usage: %s -m MODEL [OPTION]... [FILE]...\n", cli_prog);
	fputs("Predict the label (or, for a regression, the number) of every CSV\n"
	      "row of the FILEs (standard input if none), in order, one line each,\n"
	      "or with --eval print metrics.\n"
	      "Columns are matched to the model's features by header name, so\n"
	      "their order does not matter and extra columns are ignored; svmlight\n"
	      "rows (LABEL INDEX:VALUE ...) by index, features named 1, 2, ...\n"
	      "\n"
	      "Options:\n"
	      "  -m, --model=FILE        the model or ensemble\n"
	      "      --eval              print metrics instead of predictions, one\n"
	      "                            'name<TAB>value' per line: accuracy,\n"
	      "                            logloss, rows (no logloss for hinge,\n"
	      "                            squared-hinge, perceptron; rmse, mae, r2,\n"
	      "                            rows for a regression: -a linear, or\n"
	      "                            -a mlp --task regression)\n"
	      "      --proba             print the class probabilities after the label\n"
	      "                            (logistic and softmax models only)\n"
	      "      --threshold=X       anomaly scores: gaussian models print\n"
	      "                            'score<TAB>flag', kmeans models add a flag\n"
	      "                            column; flag 1 when the score (distance) is\n"
	      "                            greater than X; with --eval, gaussian: also\n"
	      "                            precision and recall at X\n"
	      "  -y, --label=COLUMN      label column for --eval (default: the model's)\n"
	      "  -d, --delimiter=CHAR    field delimiter (default ','; 'tab' for tab)\n"
	      "      --no-header         the first row is data\n"
	      "      --input-format=FMT  auto (default: binary by magic, svmlight by its\n"
	      "                            look, else CSV), csv or svmlight\n"
	      "      --features=N        svmlight: must be the model's number of features\n"
	      "  -o, --output=FILE       write to FILE (default standard output)\n"
	      "  -j, --threads=N         threads for the rows of binary data files\n"
	      "                            (default: the number of CPUs); the output\n"
	      "                            does not depend on N\n"
	      "  -v, --verbose           with --eval, also print the confusion matrix\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "A kmeans model prints 'cluster<TAB>distance' per row, clusters\n"
	      "numbered from 0; --eval prints inertia and rows.\n"
	      "\n"
	      "When the input is not a regular file (a pipe, a socket, a terminal),\n"
	      "every row is answered as soon as its line arrives.\n"
	      "\n"
	      "A scaler model prints the standardized rows, a gaussian model the\n"
	      "anomaly score of each row (squared Mahalanobis distance), a pca\n"
	      "model the row's K projections; --eval of a gaussian model reads 0/1\n"
	      "labels (1: anomaly) and prints precision, recall and auc.\n"
	      "\n"
	      "Examples:\n"
	      "  dml-predict -m model.dml --eval test.csv\n"
	      "  tail -f events.csv | dml-predict -m model.dml\n"
	      "\n"
	      "See dml-predict(1).\n",
	      stdout);
	exit(0);
}

enum { OPT_EVAL = 256, OPT_PROBA, OPT_NO_HEADER, OPT_THRESHOLD = 330,
       OPT_INPUT_FORMAT, OPT_FEATURES };

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "eval", no_argument, NULL, OPT_EVAL },
	{ "proba", no_argument, NULL, OPT_PROBA },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "label", required_argument, NULL, 'y' },
	{ "delimiter", required_argument, NULL, 'd' },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "input-format", required_argument, NULL, OPT_INPUT_FORMAT },
	{ "features", required_argument, NULL, OPT_FEATURES },
	{ "output", required_argument, NULL, 'o' },
	{ "threads", required_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static struct cli_out out;

/* A label goes out on one line: a line break, tab or backslash in it is
 * written as \n, \r, \t or \\. */
static void put_label(const char *l, FILE *f)
{
	if (!strpbrk(l, "\n\r\t\\")) {
		fputs(l, f);
		return;
	}
	for (; *l; l++) {
		switch (*l) {
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\\': fputs("\\\\", f); break;
		default: putc(*l, f);
		}
	}
}

/* Rows through a scaler, gaussian or pca model. */
static void sm_flush(struct pred *s)
{
	dml_smodel_predict(&s->sm, s->x, s->nb, s->p);
	for (uint64_t r = 0; r < s->nb; r++) {
		const double *v = s->p + r * s->sm.nout;
		if (s->eval) {
			s->rows++;
			if (s->y[r] < 0) {
				s->unknown++;
				continue;
			}
			if (s->nscore == s->capscore) {
				uint64_t cap = s->capscore ? 2 * s->capscore
							   : 4096;
				double *sc = realloc(s->score,
						     cap * sizeof *sc);
				if (sc)
					s->score = sc;
				unsigned char *y = realloc(s->sy, cap);
				if (y)
					s->sy = y;
				if (!sc || !y)
					cli_die("out of memory");
				s->capscore = cap;
			}
			s->score[s->nscore] = v[0];
			s->sy[s->nscore++] = (unsigned char)s->y[r];
			continue;
		}
		for (uint32_t i = 0; i < s->sm.nout; i++)
			fprintf(out.f, i ? "\t%.12g" : "%.12g", v[i]);
		if (s->has_threshold)
			fprintf(out.f, "\t%d", v[0] > s->threshold);
		fputc('\n', out.f);
	}
}

/* Precision and recall at the threshold, and AUC, of an anomaly model. */
static void sm_eval(struct pred *s, const char *model)
{
	if (s->rows == 0)
		cli_die("no rows to evaluate");
	if (s->unknown)
		cli_die("%llu rows have a label other than 0 or 1 (--eval of "
			"a %s model reads 1 for an anomaly, 0 for normal)",
			(unsigned long long)s->unknown,
			dml_family_name(s->sm.family));
	double auc = dml_auc(s->score, s->sy, s->nscore);
	if (auc == -2)
		cli_die("out of memory");
	if (auc < 0)
		cli_die("%s: AUC needs rows of both labels 0 and 1",
			cli_name(model));
	if (s->has_threshold) {
		uint64_t tp = 0, fp = 0, fn = 0;
		for (uint64_t i = 0; i < s->nscore; i++) {
			int flag = s->score[i] > s->threshold;
			tp += flag && s->sy[i];
			fp += flag && !s->sy[i];
			fn += !flag && s->sy[i];
		}
		fprintf(out.f, "precision\t%.6f\n",
			tp + fp ? (double)tp / (double)(tp + fp) : 0.0);
		fprintf(out.f, "recall\t%.6f\n",
			tp + fn ? (double)tp / (double)(tp + fn) : 0.0);
	}
	fprintf(out.f, "auc\t%.6f\n", auc);
	fprintf(out.f, "rows\t%llu\n", (unsigned long long)s->rows);
}

static void flush_batch(struct pred *s)
{
	if (!s->nb)
		return;
	if (s->is_sm) {
		sm_flush(s);
		s->nb = 0;
		if (s->stream && !s->eval && fflush(out.f) != 0)
			cli_die("%s: write error: %s",
				out.to_stdout ? "standard output" : out.path,
				strerror(errno));
		return;
	}
	if (!s->whole_records && dml_ensemble_proba(&s->ens, s->x, s->nb, s->p))
		cli_die("out of memory");
	const struct dml_labels *cl = &s->first->labels;
	for (uint64_t r = 0; s->reg && r < s->nb; r++) {
		double v = s->p[r];
		if (!s->eval) {
			fprintf(out.f, "%.15g\n", v);
			continue;
		}
		double e = v - s->t[r];
		s->rows++;
		s->sse += (long double)e * e;
		s->sae += fabs(e);
		s->st += s->t[r];
		s->st2 += (long double)s->t[r] * s->t[r];
	}
	for (uint64_t r = 0; !s->reg && r < s->nb; r++) {
		const double *p = s->p + r * s->nc;
		uint32_t best = 0;
		for (uint32_t c = 1; c < s->nc; c++)
			if (p[c] > p[best])
				best = c;
		if (s->eval) {
			s->rows++;
			int64_t y = s->y[r];
			if (y < 0) {
				s->unknown++;
				continue;
			}
			s->correct += (uint32_t)y == best;
			s->logloss -= log(fmax(p[y], 1e-15));
			s->confusion[(uint64_t)y * s->nc + best]++;
			continue;
		}
		put_label(cl->names[best], out.f);
		if (s->proba)
			for (uint32_t c = 0; c < s->nc; c++)
				fprintf(out.f, "\t%.6g", p[c]);
		fputc('\n', out.f);
	}
	s->nb = 0;
	if (s->stream && !s->eval && fflush(out.f) != 0)
		cli_die("%s: write error: %s",
			out.to_stdout ? "standard output" : out.path,
			strerror(errno));
}

static enum dml_err on_header(void *ctx, char **f, size_t n, uint64_t line,
			      struct dml_error *err)
{
	(void)line;
	struct pred *s = ctx;
	if (s->have_map)
		dml_colmap_free(&s->map);
	enum dml_err rc = dml_colmap_build(&s->map, f, n, &s->lo, NULL, err);
	if (rc)
		return rc;
	s->have_map = 1;
	if (s->eval && s->map.label_col < 0)
		return dml_fail(err, DML_ENOLABEL,
				"label column '%s' not found (needed by "
				"--eval)", s->lo.label);
	return DML_OK;
}

static enum dml_err on_row(void *ctx, char **f, size_t n, uint64_t line,
			   struct dml_error *err)
{
	struct pred *s = ctx;
	enum dml_err rc;
	if (!s->have_map && (rc = on_header(ctx, NULL, n, line, err)))
		return rc;
	const char *label;
	if ((rc = dml_colmap_row(&s->map, f, n, s->x + s->nb * s->nf, &label,
				 err)))
		return rc;
	if (s->eval && s->reg) {
		int prc = label ? dml_parse_double(label, &s->t[s->nb]) : -3;
		if (prc) {
			err->column = (uint64_t)s->map.label_col + 1;
			return dml_fail(err, DML_ENUMBER, "target '%.40s' is "
					"not a finite number",
					label ? label : "");
		}
	} else if (s->eval) {
		s->y[s->nb] = label ? dml_labels_find(&s->first->labels, label)
				    : -1;
	}
	if (++s->nb == s->batch)
		flush_batch(s);
	return DML_OK;
}

/* Where the records come from: a regular file mapped into memory, read
 * in place, or else (and for the stream reader's word on a record that is
 * not whole) the byte source. */
struct records {
	struct dml_src *src;
	const unsigned char *map; /* NULL when reading from src */
	void *whole;              /* the mapping, whole[0..len) */
	size_t len, off;          /* off: the next record's byte */
	int lazy;                 /* records are checksummed as they are used */
	int pending;              /* the current record's checksum is still due */
};

/* The scores of a whole data record at once, on s->threads threads, each
 * taking BATCH rows at a time into s->rp; the rest (labels, metrics,
 * output) then goes row by row in order, as for any input. */
struct rjob {
	struct pred *s;
	struct records *in;
	const struct dml_record *rec;
	const struct dml_block *blk;
	const unsigned char *px;
	uint32_t *crcs;        /* of each batch's bytes, when in->pending */
	uint64_t rowbytes;
	const int64_t *map;
	atomic_uint_fast64_t next;
	pthread_mutex_t lock;
	uint64_t bad;          /* the first row that is not finite, or n */
	struct dml_error err;  /* what is wrong with it */
	int oom;
};

struct rwork {
	struct rjob *job;
	double *x;             /* BATCH rows of this thread */
};

static void *rjob_run(void *arg)
{
	struct rwork *w = arg;
	struct rjob *j = w->job;
	struct pred *s = j->s;
	uint64_t n = j->blk->n;
	for (;;) {
		uint64_t r0 = atomic_fetch_add(&j->next, BATCH);
		if (r0 >= n)
			break;
		uint64_t nr = n - r0 < BATCH ? n - r0 : BATCH, i;
		struct dml_error e = {0};
		/* a few rows at a time checksummed, then converted while
		 * they are still in the cache; past a row that is not
		 * finite, only the checksum goes on */
		uint32_t crc = 0;
		uint64_t good = nr;
		for (uint64_t a = 0; a < nr; a += SUBROWS) {
			uint64_t na = nr - a < SUBROWS ? nr - a : SUBROWS;
			if (j->crcs)
				crc = dml_crc32c(crc, j->px + (r0 + a) *
						 j->rowbytes, na * j->rowbytes);
			for (i = a; good == nr && i < a + na; i++)
				if (dml_block_wire_row(j->blk, j->px, r0 + i,
						       j->map, s->nf,
						       w->x + i * s->nf, &e))
					good = i;
		}
		if (j->crcs)
			j->crcs[r0 / BATCH] = crc;
		i = good;
		if (i < nr) {
			pthread_mutex_lock(&j->lock);
			if (r0 + i < j->bad) {
				j->bad = r0 + i;
				j->err = e;
			}
			pthread_mutex_unlock(&j->lock);
		}
		if (i && dml_ensemble_proba(&s->ens, w->x, i,
					    s->rp + r0 * s->nc)) {
			pthread_mutex_lock(&j->lock);
			j->oom = 1;
			pthread_mutex_unlock(&j->lock);
		}
	}
	return NULL;
}

static enum dml_err record_scores(struct rjob *j, struct dml_error *err)
{
	struct pred *s = j->s;
	uint64_t n = j->blk->n;
	if (n * s->nc > s->rpcap) {
		free(s->rp);
		s->rpcap = n * s->nc;
		s->rp = malloc(s->rpcap * sizeof *s->rp + 1);
		if (!s->rp) {
			s->rpcap = 0;
			return dml_fail(err, DML_ENOMEM, NULL);
		}
	}
	uint32_t nt = s->threads;
	uint64_t batches = (n + BATCH - 1) / BATCH;
	if (nt > batches)
		nt = batches ? (uint32_t)batches : 1;
	struct rwork w[MAX_THREADS];
	atomic_init(&j->next, 0);
	pthread_mutex_init(&j->lock, NULL);
	j->bad = n;
	j->rowbytes = (uint64_t)j->blk->nfeat *
		      (j->blk->dtype == DML_F32 ? 4 : 8);
	if (j->in->pending) {
		if (batches > s->crccap) {
			free(s->crcs);
			s->crccap = 0;
			if (!(s->crcs = malloc(batches * sizeof *s->crcs)))
				return dml_fail(err, DML_ENOMEM, NULL);
			s->crccap = batches;
		}
		j->crcs = s->crcs;
	}
	for (uint32_t t = 0; t < nt; t++) {
		if (!s->tx[t] &&
		    !(s->tx[t] = malloc((size_t)BATCH * s->nf * sizeof(double) +
					1)))
			return dml_fail(err, DML_ENOMEM, NULL);
		w[t].job = j;
		w[t].x = s->tx[t];
	}
	dml_threads_run(nt, rjob_run, w, sizeof *w);
	pthread_mutex_destroy(&j->lock);
	if (j->crcs) {
		/* the payload: before the rows, the rows, after them */
		const unsigned char *pay = j->rec->payload;
		const unsigned char *end = pay + j->rec->h.payload_len;
		const unsigned char *rows_end = j->px + n * j->rowbytes;
		uint32_t crc = dml_crc32c(0, pay, (size_t)(j->px - pay));
		for (uint64_t b = 0; b < batches; b++) {
			uint64_t nr = n - b * BATCH < BATCH ? n - b * BATCH
							    : BATCH;
			crc = dml_crc32c_combine(crc, j->crcs[b],
						 nr * j->rowbytes);
		}
		crc = dml_crc32c(crc, rows_end, (size_t)(end - rows_end));
		j->in->pending = 0;
		enum dml_err rc = dml_record_view_check(j->rec, crc, err);
		if (rc)
			return rc;
	}
	if (j->oom)
		return dml_fail(err, DML_ENOMEM, NULL);
	return DML_OK;
}

/* A record whose checksum is still due is checked whole before its
 * error rc (if any) counts: a checksum error comes first, as from a
 * stream. */
static enum dml_err settle(struct records *in, const struct dml_record *rec,
			   enum dml_err rc, struct dml_error *err)
{
	if (!in->pending)
		return rc;
	in->pending = 0;
	enum dml_err crc = dml_record_view_check(
		rec, dml_crc32c(0, rec->payload, rec->h.payload_len), err);
	return crc ? crc : rc;
}

static enum dml_err next_record(struct records *in, struct dml_record *rec,
				struct dml_error *err)
{
	if (!in->map)
		return dml_record_read_src(in->src, rec, err);
	size_t used;
	const unsigned char *at = in->map + in->off;
	enum dml_err rc = in->lazy
		? dml_record_view_lazy(at, in->len - in->off, &used, rec, err)
		: dml_record_view(at, in->len - in->off, &used, rec, err);
	if (rc == DML_OK) {
		in->off += used;
		in->pending = in->lazy;
		if (in->lazy && !dml_record_framed(rec))
			return settle(in, rec, DML_OK, err);
	}
	if (rc == DML_OK || rc == DML_EEMPTY)
		return rc;
	/* the same message as from a pipe: read it again as a stream */
	if (lseek(in->src->fd, (off_t)in->off, SEEK_SET) < 0)
		return rc;
	in->map = NULL;
	return dml_record_read_src(in->src, rec, err);
}

/* An svmlight row: its pairs placed by index, its label the target. */
static enum dml_err on_svm_row(void *ctx, const struct dml_svm_row *r,
			       uint64_t line, struct dml_error *err)
{
	(void)line;
	struct pred *s = ctx;
	double *x = s->x + s->nb * s->nf;
	memset(x, 0, (size_t)s->nf * sizeof *x);
	for (size_t i = 0; i < r->n; i++) {
		uint32_t k = r->idx[i];
		int64_t f = !s->svm_map ? (int64_t)k - 1
			    : k <= s->svm_nmap ? s->svm_map[k] : -1;
		if (f < 0) {
			err->column = r->col[i];
			return dml_fail(err, DML_ENOCOLUMN, "feature index %lu "
					"is not one of the model's features",
					(unsigned long)k);
		}
		x[f] = r->val[i];
	}
	if (s->eval && s->reg) {
		if (dml_parse_double(r->label, &s->t[s->nb])) {
			err->column = r->label_col;
			return dml_fail(err, DML_ENUMBER, "target '%.40s' is "
					"not a finite number", r->label);
		}
	} else if (s->eval) {
		s->y[s->nb] = dml_labels_find(&s->first->labels, r->label);
	}
	if (++s->nb == s->batch)
		flush_batch(s);
	return DML_OK;
}

static enum dml_err predict_svm(struct pred *s, struct dml_src *src,
				struct dml_error *err)
{
	if (cli_features && cli_features != s->nf)
		return dml_fail(err, DML_ESCHEMA, "--features %lu, but the "
				"model has %lu features",
				(unsigned long)cli_features,
				(unsigned long)s->nf);
	if (!s->svm_map && !s->svm_nmap) {
		enum dml_err rc = dml_svm_map(&s->first->schema, "the model",
					      &s->svm_map, &s->svm_nmap, err);
		if (rc)
			return rc;
	}
	char why[96];
	if (s->svm_map)
		snprintf(why, sizeof why, "the largest index of the model, "
			 "%lu", (unsigned long)s->svm_nmap);
	else
		snprintf(why, sizeof why, "the model's %lu features",
			 (unsigned long)s->nf);
	return dml_svm_read(src, s->svm_nmap, why, on_svm_row, s, err);
}

/* Binary data records: one block at a time, features mapped by name. */
static enum dml_err predict_records(struct pred *s, struct records *in,
				    struct dml_error *err)
{
	struct dml_record rec;
	struct dml_schema rs = {0};
	int64_t *map = malloc(((size_t)s->nf + 1) * sizeof *map);
	int64_t *cls = NULL;
	struct dml_labels have = {0};
	char **rlnames = NULL;
	enum dml_err rc = map ? DML_OK : dml_fail(err, DML_ENOMEM, NULL);
	int use_label = 0, ident = 0;
	uint32_t ncls = 0;
	dml_record_init(&rec);
	for (uint64_t r = 1; !rc; r++) {
		struct dml_block blk;
		struct dml_labels rl;
		rc = next_record(in, &rec, err);
		if (rc == DML_EEMPTY) {
			rc = DML_OK;
			break;
		}
		if (!rc && r == 1) {
			rc = dml_schema_read(&rec, &rs, err);
			if (!rc)
				rc = dml_schema_map(&rs, &s->first->schema, map,
						    err);
			ident = !rc && rs.nfeat == s->nf;
			for (uint32_t f = 0; ident && f < s->nf; f++)
				ident = map[f] == f;
		} else if (!rc && rec.h.schema != rs.fingerprint) {
			rc = dml_fail(err, DML_ESCHEMA, "columns differ from "
				      "the first record's");
		}
		const unsigned char *px, *py;
		if (!rc && (rc = dml_block_view(&rec, &blk, &px, &py,
						err)) == DML_OK) {
			if (r == 1) {
				use_label = blk.has_label && s->lo.label &&
					    !strcmp(rs.label, s->lo.label);
				if (s->eval && !use_label)
					rc = dml_fail(err, DML_ENOLABEL,
						      "label column '%s' not "
						      "found (needed by "
						      "--eval)", s->lo.label);
			}
			if (!rc && blk.nfeat != rs.nfeat)
				rc = dml_fail(err, DML_EFORMAT, "rows of %u "
					      "values for %u features",
					      blk.nfeat, rs.nfeat);
			if (!rc && use_label &&
			    (rc = dml_labels_read(&rec, &rl, err)) == DML_OK) {
				free(cls);
				cls = malloc((rl.n + 1) * sizeof *cls);
				if (!cls)
					rc = dml_fail(err, DML_ENOMEM, NULL);
				ncls = cls ? rl.n : 0;
				for (uint32_t i = 0; cls && i < rl.n; i++)
					cls[i] = dml_labels_find(
						&s->first->labels,
						rl.names[i]);
				dml_labels_free(&have);
				have = rl;
				rlnames = have.names;
			}
			struct rjob job = { .s = s, .in = in, .rec = &rec,
					    .blk = &blk, .px = px,
					    .map = ident ? NULL : map };
			if (!rc && s->whole_records)
				rc = record_scores(&job, err);
			for (uint64_t i = 0; !rc && i < blk.n; i++) {
				if (!s->whole_records)
					rc = dml_block_wire_row(&blk, px, i,
								job.map, s->nf,
								s->x + s->nb *
								s->nf, err);
				else if (i == job.bad)
					rc = dml_fail(err, job.err.code, "%s",
						      job.err.detail);
				else
					memcpy(s->p + s->nb * s->nc,
					       s->rp + i * s->nc,
					       s->nc * sizeof *s->p);
				if (rc)
					break;
				uint32_t yi = blk.has_label
					      ? dml_get32(py + 4 * i)
					      : UINT32_MAX;
				if (s->eval && s->reg) {
					if (yi >= ncls ||
					    dml_parse_double(rlnames[yi],
							     &s->t[s->nb])) {
						rc = dml_fail(err, DML_ENUMBER,
							"row %llu: target is "
							"not a finite number",
							(unsigned long long)
							i + 1);
						break;
					}
				} else if (s->eval) {
					s->y[s->nb] = yi < ncls ? cls[yi] : -1;
				}
				if (++s->nb == s->batch)
					flush_batch(s);
			}
		}
		rc = settle(in, &rec, rc, err);
		if (rc && err)
			err->record = r;
	}
	free(map);
	free(cls);
	dml_labels_free(&have);
	dml_schema_free(&rs);
	dml_record_free(&rec);
	return rc;
}

/* A regular file of records is read where it lies, mapped. */
static void map_records(struct records *in, const struct stat *st,
			int stream)
{
	int fd = in->src->fd;
	off_t at = stream ? -1 : lseek(fd, 0, SEEK_CUR);
	if (at < 0 || st->st_size - at < DML_MAGIC_LEN ||
	    (uintmax_t)st->st_size > SIZE_MAX)
		return;
	void *p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE,
		       fd, 0);
	if (p == MAP_FAILED)
		return;
	if (memcmp((unsigned char *)p + at, DML_MAGIC, DML_MAGIC_LEN)) {
		munmap(p, (size_t)st->st_size);
		return;
	}
	in->whole = p;
	in->len = (size_t)st->st_size;
	in->map = p;
	in->off = (size_t)at;
}

static void predict_input(struct pred *s, const char *path)
{
	FILE *f = cli_open(path);
	struct stat st;
	s->stream = fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode);
	s->batch = s->stream && !s->eval ? 1 : BATCH;
	s->have_map = 0;
	struct dml_error err = {0};
	struct dml_src src;
	dml_src_init(&src, fileno(f), NULL);
	struct records in = { .src = &src };
	map_records(&in, &st, s->stream);
	int isrec = in.map ? 1 : dml_src_is_record(&src);
	enum dml_err rc;
	unsigned char *peek = NULL;
	int svm = isrec ? 0 : dml_svm_detect(&src, cli_input_format,
					     s->lo.csv.delim, &peek);
	if (isrec > 0) {
		/* a stream answers row by row; scaler, gaussian and pca
		 * models keep to their batches */
		s->whole_records = !s->stream && !s->is_sm;
		in.lazy = s->whole_records;
		/* the members' weights folded before any thread */
		if (s->whole_records &&
		    dml_ensemble_proba(&s->ens, s->x, 0, s->p))
			cli_die("out of memory");
		rc = predict_records(s, &in, &err);
	} else if (svm < 0) {
		rc = dml_fail(&err, DML_EIO, "%s", strerror(errno));
	} else if (svm) {
		rc = predict_svm(s, &src, &err);
	} else {
		rc = dml_csv_read(&src, &s->lo.csv, on_header, on_row, s,
				  &err);
	}
	if (in.map) /* where a reader of the stream would have stopped */
		(void)lseek(src.fd, (off_t)in.off, SEEK_SET);
	if (in.whole)
		munmap(in.whole, in.len);
	free(peek);
	if (rc)
		cli_die_err(&err, cli_name(path));
	flush_batch(s);
	s->whole_records = 0;
	if (s->have_map)
		dml_colmap_free(&s->map);
	cli_close(f, path);
}

int main(int argc, char **argv)
{
	struct pred s = {0};
	const char *model = NULL, *output = NULL, *label = NULL;
	int c;
	cli_init(argv[0]);
	s.threads = cli_cpus();
	while ((c = getopt_long(argc, argv, "m:y:d:o:j:vhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case OPT_EVAL: s.eval = 1; break;
		case OPT_PROBA: s.proba = 1; break;
		case OPT_THRESHOLD:
			s.threshold = cli_double("--threshold", optarg,
						 -1e300, 1e300);
			s.has_threshold = 1;
			break;
		case 'y': label = optarg; break;
		case 'd': s.lo.csv.delim = cli_delimiter(optarg); break;
		case OPT_NO_HEADER: s.lo.csv.no_header = 1; break;
		case OPT_INPUT_FORMAT: cli_set_input_format(optarg); break;
		case OPT_FEATURES: cli_set_features(optarg); break;
		case 'o': output = optarg; break;
		case 'j':
			s.threads = (uint32_t)cli_uint("--threads", optarg, 1,
						       MAX_THREADS);
			break;
		case 'v': s.verbose = 1; break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	if (!model)
		cli_usage("the model is missing (-m)");
	if (s.eval && s.proba)
		cli_usage("--eval and --proba do not go together");
	struct dml_record rec;
	struct dml_error err = {0};
	dml_record_init(&rec);
	cli_read_one(model, 0, &rec);
	if (rec.h.kind == DML_KIND_MODEL &&
	    rec.h.family == DML_FAMILY_KMEANS) {
		if (s.proba)
			cli_usage("--proba does not apply to kmeans models");
		struct kmeans_predict_opts ko = {
			.model = &rec, .model_name = cli_name(model),
			.csv = s.lo.csv, .output = output, .eval = s.eval,
			.has_threshold = s.has_threshold,
			.threshold = s.threshold,
		};
		kmeans_predict(&ko, argv + optind, argc - optind);
		dml_record_free(&rec);
		return 0;
	}
	static char *zero_one[] = { "0", "1" };
	if (rec.h.kind == DML_KIND_MODEL && dml_smodel_family(rec.h.family)) {
		if (dml_smodel_decode(&rec, &s.sm, &err))
			cli_die_err(&err, cli_name(model));
		s.is_sm = 1;
		s.fake.schema = s.sm.schema;
		s.fake.labels.n = 2;
		s.fake.labels.names = zero_one;
		s.first = &s.fake;
	} else if (dml_ensemble_decode(&rec, &s.ens, &err)) {
		cli_die_err(&err, cli_name(model));
	} else {
		s.first = &s.ens.members[0];
	}
	dml_record_free(&rec);
	uint32_t fam = s.first->family ? s.first->family : s.sm.family;
	if (s.has_threshold && !(s.is_sm && dml_smodel_anomaly(fam)))
		cli_die("%s: --threshold needs an anomaly model (gaussian or kmeans), "
			"not a %s model", cli_name(model),
			dml_family_name(fam));
	if (s.is_sm && (s.proba || (s.eval && !dml_smodel_anomaly(fam))))
		cli_die("%s: %s needs a classifier%s, not a %s model",
			cli_name(model), s.proba ? "--proba" : "--eval",
			s.proba ? "" : " or an anomaly model",
			dml_family_name(fam));
	s.nf = s.first->schema.nfeat;
	s.reg = !s.is_sm && (dml_family_is_regression(s.first->family) ||
			     dml_mlp_is_regression(s.first) ||
			     (s.first->forest &&
			      dml_forest_is_regression(s.first->forest)));
	s.margin = !s.is_sm && dml_family_is_margin(s.first->family);
	s.nc = s.is_sm ? (s.sm.nout > 2 ? s.sm.nout : 2)
	       : s.reg ? 1 : s.first->labels.n;
	if (s.proba && (s.reg || s.margin))
		cli_usage("--proba: a %s%s model gives no probabilities",
			  s.reg && !dml_family_is_regression(s.first->family)
			  ? "regression " : "",
			  dml_family_name(s.first->family));
	s.lo.schema = &s.first->schema;
	s.lo.label = label ? label : s.first->schema.label;
	s.lo.label_optional = !s.eval;
	if (!*s.lo.label)
		s.lo.label = NULL;
	if (s.eval && !s.lo.label)
		cli_usage("--eval needs the label column (-y)");
	s.x = malloc((size_t)BATCH * s.nf * sizeof *s.x + 1);
	s.p = malloc((size_t)BATCH * s.nc * sizeof *s.p);
	s.y = malloc(BATCH * sizeof *s.y);
	s.t = malloc(BATCH * sizeof *s.t);
	s.confusion = calloc((size_t)s.nc * s.nc, sizeof *s.confusion);
	if (!s.x || !s.p || !s.y || !s.t || !s.confusion)
		cli_die("out of memory");
	cli_out_open(&out, output);
	if (s.proba) {
		fputs("label", out.f);
		for (uint32_t i = 0; i < s.nc; i++) {
			fputc('\t', out.f);
			put_label(s.first->labels.names[i], out.f);
		}
		fputc('\n', out.f);
	}
	if (optind == argc)
		predict_input(&s, "-");
	for (int i = optind; i < argc; i++)
		predict_input(&s, argv[i]);
	if (s.eval && s.reg) {
		if (s.rows == 0)
			cli_die("no rows to evaluate");
		long double n = (long double)s.rows;
		long double sst = s.st2 - s.st * s.st / n;
		fprintf(out.f, "rmse\t%.6g\n", (double)sqrtl(s.sse / n));
		fprintf(out.f, "mae\t%.6g\n", (double)(s.sae / n));
		fprintf(out.f, "r2\t%.6f\n",
			sst > 0 ? (double)(1 - s.sse / sst) : NAN);
		fprintf(out.f, "rows\t%llu\n", (unsigned long long)s.rows);
	} else if (s.eval && s.is_sm) {
		sm_eval(&s, model);
	} else if (s.eval) {
		if (s.rows == 0)
			cli_die("no rows to evaluate");
		uint64_t known = s.rows - s.unknown;
		fprintf(out.f, "accuracy\t%.6f\n",
			(double)s.correct / (double)s.rows);
		if (!s.margin) /* no probabilities, no log loss */
			fprintf(out.f, "logloss\t%.6f\n",
				known ? s.logloss / (double)known : NAN);
		fprintf(out.f, "rows\t%llu\n", (unsigned long long)s.rows);
		if (s.unknown)
			fprintf(out.f, "unknown_labels\t%llu\n",
				(unsigned long long)s.unknown);
		if (s.verbose) {
			fputs("confusion", out.f);
			for (uint32_t j = 0; j < s.nc; j++) {
				fputc('\t', out.f);
				put_label(s.first->labels.names[j], out.f);
			}
			fputc('\n', out.f);
			for (uint32_t i = 0; i < s.nc; i++) {
				put_label(s.first->labels.names[i], out.f);
				for (uint32_t j = 0; j < s.nc; j++)
					fprintf(out.f, "\t%llu",
						(unsigned long long)
						s.confusion[i * s.nc + j]);
				fputc('\n', out.f);
			}
		}
	}
	cli_out_commit(&out);
	free(s.x);
	free(s.p);
	free(s.y);
	free(s.t);
	free(s.confusion);
	free(s.rp);
	free(s.crcs);
	for (uint32_t t = 0; t < MAX_THREADS; t++)
		free(s.tx[t]);
	free(s.svm_map);
	free(s.score);
	free(s.sy);
	if (s.is_sm)
		dml_smodel_free(&s.sm);
	else
		dml_ensemble_free(&s.ens);
	return 0;
}
