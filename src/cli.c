/* cli.c - shared command-line plumbing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE */
#endif
#include "cli.h"
#include "svmread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


const char *cli_prog = "dml";
static int failing; /* cli_die said why; the exit check stays quiet */
static struct cli_out *pending; /* list of temporaries to remove if we die */

static void close_stdout(void)
{
	if (failing) {
		fclose(stdout);
		return;
	}
	int err = ferror(stdout);
	if (fclose(stdout) != 0 || err) {
		if (errno == EPIPE)
			_exit(1);
		fprintf(stderr, "%s: write error on standard output: %s\n",
			cli_prog, strerror(errno ? errno : EIO));
		_exit(1);
	}
}

/* BLIS 0.9 picks its kernels from the CPU model and falls back to slower
 * kernels on processors newer than it knows: reference kernels on new AMD
 * processors, haswell ones on new Intel processors with AVX-512.  Its zen3
 * kernels need only AVX2 and FMA, and measured faster than its skx ones on
 * AMD processors with AVX-512 too, so choose them on any such AMD CPU; on
 * an Intel CPU with the AVX-512 subsets its skx kernels use, choose those
 * (they measured fastest there).  Before BLIS initialises; a
 * BLIS_ARCH_TYPE set by the user wins. */
static int blis_arch_given; /* by the user, in the environment */

static void choose_blis_kernels(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (getenv("BLIS_ARCH_TYPE")) {
		blis_arch_given = 1;
		return;
	}
	__builtin_cpu_init();
	if (__builtin_cpu_is("amd") && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma"))
		setenv("BLIS_ARCH_TYPE", "6", 0); /* BLIS_ARCH_ZEN3 */
	else if (__builtin_cpu_is("intel") &&
		 __builtin_cpu_supports("avx512f") &&
		 __builtin_cpu_supports("avx512dq") &&
		 __builtin_cpu_supports("avx512bw") &&
		 __builtin_cpu_supports("avx512vl") &&
		 __builtin_cpu_supports("fma"))
		setenv("BLIS_ARCH_TYPE", "0", 0); /* BLIS_ARCH_SKX */
#endif
}

/* The linear families multiply by as many columns as there are classes
 * (ten, say).  BLIS runs such thin products on its unpacked "sup" kernels,
 * which its skx configuration lacks: there it packs all of a block of rows
 * for every product, and a softmax fit on Fashion-MNIST spent half its
 * time packing (CPU seconds to max-iter 15 on an Intel Xeon with AVX-512:
 * skx 4.6, haswell 3.4, zen3 3.2).  So for these families choose zen3's
 * kernels (AVX2 and FMA) where skx's were chosen; before BLIS initialises,
 * unless the user chose. */
void cli_blis_family(uint32_t family)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (blis_arch_given || family < DML_FAMILY_LOGISTIC ||
	    family > DML_FAMILY_PERCEPTRON)
		return;
	const char *a = getenv("BLIS_ARCH_TYPE");
	if (a && !strcmp(a, "0"))
		setenv("BLIS_ARCH_TYPE", "6", 1); /* BLIS_ARCH_ZEN3 */
#else
	(void)family;
#endif
}

/* Large regular files are read through mmap (binary shards in
 * dml-predict, CSV parsed on threads); if another process cuts such a
 * file short meanwhile, reading past its new end raises SIGBUS.  Say so
 * and exit 1 rather than die of the signal; -o files are unnamed until
 * whole, so none is left. */
static void on_sigbus(int sig)
{
	static const char msg[] =
		": an input file was cut short while being read (SIGBUS)\n";
	(void)sig;
	if (write(2, cli_prog, strlen(cli_prog)) > 0)
		(void)!write(2, msg, sizeof msg - 1);
	_exit(1);
}

void cli_init(const char *prog)
{
	const char *slash = strrchr(prog, '/');
	cli_prog = slash ? slash + 1 : prog;
	choose_blis_kernels();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	atexit(close_stdout);
}

void cli_version(void)
{
	printf("%s (%s) %s\n", cli_prog, PACKAGE_NAME, PACKAGE_VERSION);
	exit(0);
}

static void cleanup(void)
{
	while (pending)
		cli_out_abort(pending);
}

static void unlink_pending(struct cli_out *o)
{
	for (struct cli_out **p = &pending; *p; p = &(*p)->next)
		if (*p == o) {
			*p = o->next;
			return;
		}
}

void cli_try_help(void)
{
	cleanup();
	fprintf(stderr, "Try '%s --help' for more information.\n", cli_prog);
	exit(2);
}

void cli_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_try_help();
}

void cli_die(const char *fmt, ...)
{
	va_list ap;
	failing = 1;
	cleanup();
	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_die_err(const struct dml_error *err, const char *input)
{
	char buf[1024];
	dml_error_format(err, input, buf, sizeof buf);
	cli_die("%s", buf);
}

uint64_t cli_uint(const char *name, const char *value, uint64_t min,
		  uint64_t max)
{
	char *end;
	errno = 0;
	if (*value == '-' || *value == '\0')
		goto bad;
	unsigned long long v = strtoull(value, &end, 10);
	if (*end || end == value)
		goto bad;
	if (errno == ERANGE)
		cli_usage("%s: %s is out of range %llu..%llu", name, value,
			  (unsigned long long)min, (unsigned long long)max);
	if (errno)
		goto bad;
	if (v < min || v > max)
		cli_usage("%s: %s is out of range %llu..%llu", name, value,
			  (unsigned long long)min, (unsigned long long)max);
	return v;
bad:
	cli_usage("%s: '%s' is not a whole number", name, value);
}

double cli_double(const char *name, const char *value, double min,
		  double max)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (errno || *end || end == value || !isfinite(v))
		cli_usage("%s: '%s' is not a number", name, value);
	if (v < min || v > max)
		cli_usage("%s: %s is out of range %g..%g", name, value, min,
			  max);
	return v;
}

unsigned char cli_delimiter(const char *value)
{
	if (!strcmp(value, "\\t") || !strcmp(value, "tab"))
		return '\t';
	if (strlen(value) != 1 || value[0] == '"' || value[0] == '\n' ||
	    value[0] == '\r')
		cli_usage("--delimiter: '%s' must be one character (or 'tab')",
			  value);
	return (unsigned char)value[0];
}

int cli_input_format;
uint32_t cli_features;

void cli_set_input_format(const char *value)
{
	if (!strcmp(value, "auto"))
		cli_input_format = DML_INPUT_AUTO;
	else if (!strcmp(value, "csv"))
		cli_input_format = DML_INPUT_CSV;
	else if (!strcmp(value, "svmlight"))
		cli_input_format = DML_INPUT_SVMLIGHT;
	else
		cli_usage("--input-format: unknown format '%s' (auto, csv, "
			  "svmlight)", value);
}

void cli_set_features(const char *value)
{
	cli_features = (uint32_t)cli_uint("--features", value, 1,
					  DML_SVM_MAX_FEATURES);
}

int cli_svm_input(char **files, int nfiles, unsigned char delim)
{
	if (cli_input_format != DML_INPUT_AUTO)
		return cli_input_format == DML_INPUT_SVMLIGHT;
	if (nfiles == 0 || !strcmp(files[0], "-"))
		return 0;
	int fd = open(files[0], O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = 0;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		struct dml_src src;
		unsigned char *peek = NULL;
		dml_src_init(&src, fd, NULL);
		if (dml_src_is_record(&src) == 0)
			r = dml_svm_detect(&src, DML_INPUT_AUTO, delim,
					   &peek) == 1;
		free(peek);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

uint32_t cli_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 1024 ? 1024 : (uint32_t)n;
}

const char *cli_name(const char *path)
{
	return !path || !strcmp(path, "-") ? "(standard input)" : path;
}

/* A pipe read in bulk moves far more per wakeup with a bigger buffer
 * than the default 64 KiB; where the system refuses, the default stays. */
static void grow_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < (1 << 20))
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
	(void)fd;
#endif
}

FILE *cli_open(const char *path)
{
	if (!strcmp(path, "-")) {
		grow_pipe(STDIN_FILENO);
		return stdin;
	}
	FILE *f = fopen(path, "rb");
	if (!f)
		cli_die("%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
		cli_die("%s: is a directory", path);
	grow_pipe(fileno(f));
	return f;
}

void cli_close(FILE *f, const char *path)
{
	if (f != stdin)
		fclose(f);
	(void)path;
}

void cli_out_open(struct cli_out *o, const char *path)
{
	memset(o, 0, sizeof *o);
	if (!path || !strcmp(path, "-")) {
		o->to_stdout = 1;
		o->f = stdout;
		return;
	}
	o->path = strdup(path);
	if (!o->path)
		cli_die("out of memory");
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		o->f = fopen(path, "wb"); /* device or FIFO: in place */
		if (!o->f)
			cli_die("%s: %s", path, strerror(errno));
		return;
	}
	size_t n = strlen(path);
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	o->tmp = malloc(n + 48);
	if (!o->tmp)
		cli_die("out of memory");
	int fd = -1;
#ifdef O_TMPFILE
	/* An unnamed file, given its name only once it is whole: a process
	 * killed while writing leaves nothing behind. */
	if (access("/proc/self/fd", X_OK) == 0) {
		snprintf(o->tmp, n + 48, "%.*s", dirlen ? dirlen : 1,
			 dirlen ? path : ".");
		fd = open(o->tmp, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (fd >= 0)
			o->anon = 1;
	}
#endif
	if (fd < 0) {
		snprintf(o->tmp, n + 48, "%.*s.%s.tmp.XXXXXX", dirlen, path,
			 path + dirlen);
		fd = mkstemp(o->tmp);
	}
	if (fd < 0)
		cli_die("%s: cannot create a temporary file beside it: %s",
			path, strerror(errno));
	o->f = fdopen(fd, "wb");
	if (!o->f)
		cli_die("%s: %s", path, strerror(errno));
	o->next = pending;
	pending = o;
}

/* Give the unnamed file a temporary name beside the target. */
static void link_anon(struct cli_out *o)
{
	char proc[64];
	size_t n = strlen(o->path);
	const char *slash = strrchr(o->path, '/');
	int dirlen = slash ? (int)(slash - o->path + 1) : 0;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(o->f));
	for (unsigned i = 0;; i++) {
		snprintf(o->tmp, n + 48, "%.*s.%s.tmp.%ld.%u", dirlen,
			 o->path, o->path + dirlen, (long)getpid(), i);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp,
			   AT_SYMLINK_FOLLOW) == 0)
			break;
		if (errno != EEXIST || i > 1000) {
			int e = errno;
			free(o->tmp);
			o->tmp = NULL;
			cli_die("%s: cannot give the new file a name: %s",
				o->path, strerror(e));
		}
	}
	o->anon = 0;
}

void cli_out_write(struct cli_out *o, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, o->f) != n)
		cli_die("%s: write error: %s",
			o->to_stdout ? "standard output" : o->path,
			strerror(errno));
}

void cli_out_commit(struct cli_out *o)
{
	const char *name = o->to_stdout ? "standard output" : o->path;
	if (o->to_stdout) {
		if (fflush(stdout) != 0 || ferror(stdout))
			cli_die("%s: write error: %s", name, strerror(errno));
		return;
	}
	if (fflush(o->f) != 0 || ferror(o->f) ||
	    (o->tmp && fsync(fileno(o->f)) != 0)) {
		int e = errno;
		cli_die("%s: write error: %s", name, strerror(e));
	}
	if (o->anon)
		link_anon(o);
	if (fclose(o->f) != 0) {
		o->f = NULL;
		cli_die("%s: write error: %s", name, strerror(errno));
	}
	o->f = NULL;
	if (o->tmp) {
		struct stat st;
		if (stat(o->path, &st) == 0)
			chmod(o->tmp, st.st_mode & 07777);
		else
			chmod(o->tmp, 0666 & ~umask(umask(0)));
		if (rename(o->tmp, o->path) != 0)
			cli_die("%s: cannot rename into place: %s", name,
				strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
	}
	unlink_pending(o);
	free(o->path);
	o->path = NULL;
}

void cli_out_abort(struct cli_out *o)
{
	if (o->tmp) {
		if (o->f)
			fclose(o->f);
		o->f = NULL;
		if (!o->anon)
			unlink(o->tmp);
		o->anon = 0;
		free(o->tmp);
		o->tmp = NULL;
	}
	unlink_pending(o);
}

void cli_read_one(const char *path, uint32_t kind, struct dml_record *rec)
{
	FILE *f = cli_open(path);
	struct dml_error err = {0};
	enum dml_err rc = dml_record_read(f, rec, &err);
	if (rc == DML_EEMPTY)
		cli_die("%s: empty input (no record)", cli_name(path));
	if (rc) {
		err.record = 1;
		cli_die_err(&err, cli_name(path));
	}
	if (kind && rec->h.kind != kind)
		cli_die("%s: expected a %s record, found %s %s record",
			cli_name(path), dml_kind_name(kind),
			dml_kind_article(rec->h.kind),
			dml_kind_name(rec->h.kind));
	struct dml_record extra;
	dml_record_init(&extra);
	rc = dml_record_read(f, &extra, &err);
	dml_record_free(&extra);
	if (rc == DML_OK)
		cli_die("%s: holds more than one record (expected exactly "
			"one)", cli_name(path));
	if (rc != DML_EEMPTY)
		cli_die("%s: unexpected bytes after the record",
			cli_name(path));
	cli_close(f, path);
}

void cli_load_model(const char *path, struct dml_model *m, uint64_t *hash)
{
	struct dml_record rec;
	struct dml_error err = {0};
	dml_record_init(&rec);
	cli_read_one(path, 0, &rec);
	if (rec.h.kind != DML_KIND_MODEL)
		cli_die("%s: expected a model, found %s %s record",
			cli_name(path), dml_kind_article(rec.h.kind),
			dml_kind_name(rec.h.kind));
	if (dml_model_decode(&rec, m, &err))
		cli_die_err(&err, cli_name(path));
	cli_blis_family(m->family);
	if (m->forest)
		cli_die("%s: a %s model cannot be trained further or take "
			"gradients", cli_name(path), dml_family_name(m->family));
	if (hash)
		*hash = dml_record_hash(&rec);
	dml_record_free(&rec);
}

void cli_load_csv(char **files, int nfiles, const struct dml_load_opts *o,
		  struct dml_data *d)
{
	char *dash[] = { "-" };
	if (nfiles == 0) {
		files = dash;
		nfiles = 1;
	}
	struct dml_load_opts lo = *o;
	if (!lo.input_format)
		lo.input_format = cli_input_format;
	if (!lo.features)
		lo.features = cli_features;
	for (int i = 0; i < nfiles; i++) {
		FILE *f = cli_open(files[i]);
		struct dml_error err = {0};
		enum dml_err rc = dml_data_load(d, fileno(f), &lo, &err);
		if (rc)
			cli_die_err(&err, cli_name(files[i]));
		cli_close(f, files[i]);
	}
}

void cli_emit(struct cli_out *out, struct dml_buf *b, enum dml_err rc)
{
	if (rc)
		cli_die("cannot build the output record: %s",
			dml_strerror(rc));
	cli_out_write(out, b->p, b->len);
	cli_out_commit(out);
}
