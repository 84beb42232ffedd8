/*
 * idx2csv -- convert MNIST / Fashion-MNIST idx files to CSV.
 *
 * Reads an idx3 image file (magic 0x00000803: unsigned bytes, three
 * big-endian dimensions count x rows x cols) and the matching idx1 label
 * file (magic 0x00000801, one dimension), and writes
 *
 *     label,p0,p1,...,p783
 *     9,0,0,...,0
 *
 * one row per image.  Files whose names end in ".gz" (or every input, with
 * --gzip) are read through `gzip -dc`.  Both inputs are streamed: memory
 * use is one image, whatever the count.
 *
 * Not installed; it prepares Fashion-MNIST for the tests, the examples and
 * `make bench'.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define PROG "idx2csv"

#define IDX1_UBYTE_MAGIC 0x00000801u
#define IDX3_UBYTE_MAGIC 0x00000803u

/* Refuse images larger than this many pixels before allocating. */
#define MAX_PIXELS (1u << 24)

static const char *const fashion_names[10] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

struct idx_input {
	const char *name;   /* as given on the command line */
	FILE *fp;
	int is_pipe;        /* opened with popen(): close with pclose() */
};

/* Flush and close out; report a write error naming what. */
static int close_output(FILE *out, const char *what)
{
	int err = ferror(out);
	int saved = errno;
	if (fclose(out) != 0) {
		saved = errno;
		err = 1;
	}
	if (err) {
		fprintf(stderr, "%s: %s: write error%s%s\n", PROG, what,
			saved ? ": " : "", saved ? strerror(saved) : "");
		return -1;
	}
	return 0;
}

static void usage(void)
{
	printf("Usage: %s [OPTION]... IMAGES LABELS\n", PROG);
	fputs("Convert an MNIST / Fashion-MNIST idx image file and its label file to CSV.\n"
	      "\n"
	      "Writes a header 'label,p0,p1,...' and one row per image: the label, then\n"
	      "each pixel as an integer 0..255.  Inputs whose names end in .gz are\n"
	      "decompressed with 'gzip -dc'.  Either input may be '-' for standard input.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output=FILE   write to FILE (created whole or not at all);\n"
	      "                      default or '-': standard output\n"
	      "  -n, --limit=N       convert only the first N images\n"
	      "  -l, --label-names   write Fashion-MNIST class names instead of 0..9\n"
	      "  -z, --gzip          decompress every input with 'gzip -dc'\n"
	      "  -h, --help          display this help and exit\n"
	      "  -V, --version       output version information and exit\n"
	      "\n"
	      "Example:\n"
	      "  idx2csv -o train.csv /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \\\n"
	      "          /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz\n",
	      stdout);
	exit(close_output(stdout, "standard output") == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

static void try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", PROG);
	exit(2);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "gzip -dc -- 'NAME'" with NAME quoted for sh; NULL on allocation failure. */
static char *gzip_command(const char *name)
{
	static const char prefix[] = "gzip -dc -- '";
	size_t len = sizeof prefix + 2;
	for (const char *p = name; *p; p++)
		len += *p == '\'' ? 4 : 1;
	char *cmd = malloc(len);
	if (!cmd)
		return NULL;
	char *q = cmd;
	memcpy(q, prefix, sizeof prefix - 1);
	q += sizeof prefix - 1;
	for (const char *p = name; *p; p++) {
		if (*p == '\'') {
			memcpy(q, "'\\''", 4);
			q += 4;
		} else {
			*q++ = *p;
		}
	}
	*q++ = '\'';
	*q = '\0';
	return cmd;
}

static int input_open(struct idx_input *in, const char *name, int force_gzip)
{
	in->name = name;
	in->fp = NULL;
	in->is_pipe = 0;
	int is_stdin = strcmp(name, "-") == 0;
	if (force_gzip || (!is_stdin && ends_with(name, ".gz"))) {
		/* popen() hides a missing file behind gzip's own message;
		 * say it in ours. */
		if (!is_stdin && access(name, R_OK) != 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, name, strerror(errno));
			return -1;
		}
		/* gzip inherits our standard input for "-". */
		char *cmd = is_stdin ? strdup("gzip -dc") : gzip_command(name);
		if (!cmd) {
			fprintf(stderr, "%s: out of memory\n", PROG);
			return -1;
		}
		fflush(NULL);
		in->fp = popen(cmd, "r");
		int saved = errno;
		free(cmd);
		if (!in->fp) {
			fprintf(stderr, "%s: %s: cannot run gzip -dc: %s\n",
				PROG, name, strerror(saved));
			return -1;
		}
		in->is_pipe = 1;
		return 0;
	}
	if (is_stdin) {
		in->fp = stdin;
		return 0;
	}
	in->fp = fopen(name, "rb");
	if (!in->fp) {
		fprintf(stderr, "%s: %s: %s\n", PROG, name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Close an input.  With check set, a decompressor that failed is an error
 * (gzip has already printed why); without, its status is ignored, as when
 * we stop reading early and it dies of SIGPIPE.
 */
static int input_close(struct idx_input *in, int check)
{
	int rc = 0;
	if (!in->fp)
		return 0;
	if (in->is_pipe) {
		int status = pclose(in->fp);
		if (check && status != 0) {
			if (status == -1)
				fprintf(stderr, "%s: %s: %s\n", PROG, in->name, strerror(errno));
			else if (WIFEXITED(status))
				fprintf(stderr, "%s: %s: gzip -dc failed (exit status %d)\n",
					PROG, in->name, WEXITSTATUS(status));
			else
				fprintf(stderr, "%s: %s: gzip -dc failed (signal %d)\n",
					PROG, in->name, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			rc = -1;
		}
	} else if (in->fp != stdin) {
		fclose(in->fp);
	}
	in->fp = NULL;
	return rc;
}

/*
 * Read exactly len bytes.  On a short read print "FILE: truncated WHAT"
 * (or the read error, or the decompressor's failure) and return -1.
 */
static int input_read(struct idx_input *in, void *buf, size_t len, const char *what)
{
	size_t got = fread(buf, 1, len, in->fp);
	if (got == len)
		return 0;
	if (ferror(in->fp)) {
		fprintf(stderr, "%s: %s: read error: %s\n", PROG, in->name, strerror(errno));
		return -1;
	}
	/* A decompressor that failed explains the short read better. */
	if (in->is_pipe && input_close(in, 1) != 0)
		return -1;
	fprintf(stderr, "%s: %s: file truncated %s\n", PROG, in->name, what);
	return -1;
}

/* After the last item: anything more is an error, and so is a failed gzip. */
static int input_finish(struct idx_input *in)
{
	int c = getc(in->fp);
	if (c != EOF) {
		fprintf(stderr, "%s: %s: unexpected data after the last item\n",
			PROG, in->name);
		return -1;
	}
	if (ferror(in->fp)) {
		fprintf(stderr, "%s: %s: read error: %s\n", PROG, in->name, strerror(errno));
		return -1;
	}
	return input_close(in, 1);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int check_magic(const struct idx_input *in, uint32_t magic, uint32_t want,
		       const char *kind)
{
	if (magic == want)
		return 0;
	if ((magic >> 16) == 0x1f8b)
		fprintf(stderr, "%s: %s: gzip-compressed; use --gzip, or name it *.gz\n",
			PROG, in->name);
	else if ((magic >> 16) != 0)
		fprintf(stderr, "%s: %s: not an idx file (magic number 0x%08" PRIx32 ")\n",
			PROG, in->name, magic);
	else
		fprintf(stderr, "%s: %s: magic number 0x%08" PRIx32 ", expected 0x%08"
			PRIx32 " (%s)\n", PROG, in->name, magic, want, kind);
	return -1;
}

/* Reads the images header; sets count and pixels per image. */
static int read_images_header(struct idx_input *in, uint32_t *count, size_t *pixels)
{
	unsigned char h[16];
	if (input_read(in, h, sizeof h, "in the header") != 0)
		return -1;
	if (check_magic(in, be32(h), IDX3_UBYTE_MAGIC,
			"idx3 unsigned-byte images") != 0)
		return -1;
	uint32_t rows = be32(h + 8), cols = be32(h + 12);
	if (rows == 0 || cols == 0 || (uint64_t)rows * cols > MAX_PIXELS) {
		fprintf(stderr, "%s: %s: unsupported image size %" PRIu32 "x%" PRIu32
			" (at most %u pixels)\n", PROG, in->name, rows, cols, MAX_PIXELS);
		return -1;
	}
	*count = be32(h + 4);
	*pixels = (size_t)rows * cols;
	return 0;
}

static int read_labels_header(struct idx_input *in, uint32_t *count)
{
	unsigned char h[8];
	if (input_read(in, h, sizeof h, "in the header") != 0)
		return -1;
	if (check_magic(in, be32(h), IDX1_UBYTE_MAGIC, "idx1 unsigned-byte labels") != 0)
		return -1;
	*count = be32(h + 4);
	return 0;
}

/* Write s as one CSV field, quoted only if it must be (RFC 4180). */
static void put_csv_field(const char *s, FILE *out)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	putc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', out);
		putc(*s, out);
	}
	putc('"', out);
}

static void put_header(size_t pixels, FILE *out)
{
	fputs("label", out);
	for (size_t i = 0; i < pixels; i++)
		fprintf(out, ",p%zu", i);
	putc('\n', out);
}

/* Append ",v" for one byte value to q; returns the new end. */
static char *put_byte(char *q, unsigned v)
{
	*q++ = ',';
	if (v >= 100) {
		*q++ = (char)('0' + v / 100);
		*q++ = (char)('0' + v / 10 % 10);
	} else if (v >= 10) {
		*q++ = (char)('0' + v / 10);
	}
	*q++ = (char)('0' + v % 10);
	return q;
}

struct options {
	const char *output;     /* NULL or "-": stdout */
	uint64_t limit;         /* UINT64_MAX: all */
	int label_names;
	int force_gzip;
};

/* Stream the rows.  Returns 0 or -1 (message printed). */
static int convert(struct idx_input *images, struct idx_input *labels,
		   const struct options *opt, FILE *out)
{
	uint32_t nimages, nlabels;
	size_t pixels;

	if (read_images_header(images, &nimages, &pixels) != 0 ||
	    read_labels_header(labels, &nlabels) != 0)
		return -1;
	if (nimages != nlabels) {
		fprintf(stderr, "%s: %s: %" PRIu32 " labels for %" PRIu32
			" images in %s\n", PROG, labels->name, nlabels, nimages,
			images->name);
		return -1;
	}

	unsigned char *pix = malloc(pixels);
	char *line = malloc(pixels * 4 + 2);    /* ",255" per pixel, '\n' */
	if (!pix || !line) {
		free(pix);
		free(line);
		fprintf(stderr, "%s: out of memory\n", PROG);
		return -1;
	}

	uint64_t n = opt->limit < nimages ? opt->limit : nimages;
	int rc = 0;
	put_header(pixels, out);
	for (uint64_t i = 0; i < n; i++) {
		char what[64];
		unsigned char label;
		snprintf(what, sizeof what, "at image %" PRIu64 " of %" PRIu32,
			 i + 1, nimages);
		if (input_read(images, pix, pixels, what) != 0) {
			rc = -1;
			break;
		}
		snprintf(what, sizeof what, "at label %" PRIu64 " of %" PRIu32,
			 i + 1, nlabels);
		if (input_read(labels, &label, 1, what) != 0) {
			rc = -1;
			break;
		}
		if (opt->label_names) {
			if (label >= sizeof fashion_names / sizeof fashion_names[0]) {
				fprintf(stderr, "%s: %s: label %u of item %" PRIu64
					" is not a Fashion-MNIST class (0..9)\n",
					PROG, labels->name, (unsigned)label, i + 1);
				rc = -1;
				break;
			}
			put_csv_field(fashion_names[label], out);
		} else {
			fprintf(out, "%u", (unsigned)label);
		}
		char *q = line;
		for (size_t j = 0; j < pixels; j++)
			q = put_byte(q, pix[j]);
		*q++ = '\n';
		if (fwrite(line, 1, (size_t)(q - line), out) != (size_t)(q - line)) {
			rc = -1;    /* reported by the caller's close */
			break;
		}
	}
	free(pix);
	free(line);
	if (rc == 0 && n == nimages) {
		/* Read to the end: trailing garbage, and gzip's CRC check. */
		if (input_finish(images) != 0 || input_finish(labels) != 0)
			rc = -1;
	}
	return rc;
}

static int parse_limit(const char *arg, uint64_t *limit)
{
	char *end;
	errno = 0;
	if (*arg == '-' || *arg == '\0')
		goto bad;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	*limit = v;
	return 0;
bad:
	fprintf(stderr, "%s: --limit: invalid number '%s'\n", PROG, arg);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output",      required_argument, NULL, 'o' },
		{ "limit",       required_argument, NULL, 'n' },
		{ "label-names", no_argument,       NULL, 'l' },
		{ "gzip",        no_argument,       NULL, 'z' },
		{ "help",        no_argument,       NULL, 'h' },
		{ "version",     no_argument,       NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct options opt = { .output = NULL, .limit = UINT64_MAX };
	int c;

	while ((c = getopt_long(argc, argv, "o:n:lzhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			opt.output = optarg;
			break;
		case 'n':
			if (parse_limit(optarg, &opt.limit) != 0)
				try_help();
			break;
		case 'l':
			opt.label_names = 1;
			break;
		case 'z':
			opt.force_gzip = 1;
			break;
		case 'h':
			usage();
			break;
		case 'V':
			printf("%s (dml) %s\n", PROG, PACKAGE_VERSION);
			return close_output(stdout, "standard output") == 0 ?
				EXIT_SUCCESS : EXIT_FAILURE;
		default:
			try_help();
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, argc - optind < 2 ? "%s: missing operand\n"
			: "%s: too many operands\n", PROG);
		try_help();
	}
	if (strcmp(argv[optind], "-") == 0 && strcmp(argv[optind + 1], "-") == 0) {
		fprintf(stderr, "%s: IMAGES and LABELS cannot both be standard input\n", PROG);
		try_help();
	}

	struct idx_input images = { 0 }, labels = { 0 };
	if (input_open(&images, argv[optind], opt.force_gzip) != 0)
		return EXIT_FAILURE;
	if (input_open(&labels, argv[optind + 1], opt.force_gzip) != 0) {
		input_close(&images, 0);
		return EXIT_FAILURE;
	}

	/* -o FILE: write FILE.XXXXXX beside it, rename when complete. */
	FILE *out = stdout;
	char *tmp = NULL;
	int to_file = opt.output && strcmp(opt.output, "-") != 0;
	if (to_file) {
		size_t len = strlen(opt.output);
		tmp = malloc(len + sizeof ".XXXXXX");
		if (!tmp) {
			fprintf(stderr, "%s: out of memory\n", PROG);
			return EXIT_FAILURE;
		}
		memcpy(tmp, opt.output, len);
		memcpy(tmp + len, ".XXXXXX", sizeof ".XXXXXX");
		int fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, opt.output, strerror(errno));
			free(tmp);
			return EXIT_FAILURE;
		}
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(fd, 0666 & ~mask) != 0 || !(out = fdopen(fd, "w"))) {
			fprintf(stderr, "%s: %s: %s\n", PROG, tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			free(tmp);
			return EXIT_FAILURE;
		}
	}

	int rc = convert(&images, &labels, &opt, out);
	input_close(&images, 0);
	input_close(&labels, 0);

	if (to_file) {
		if (close_output(out, opt.output) != 0)
			rc = -1;
		if (rc == 0 && rename(tmp, opt.output) != 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, opt.output, strerror(errno));
			rc = -1;
		}
		if (rc != 0)
			unlink(tmp);
		free(tmp);
	} else if (close_output(stdout, "standard output") != 0) {
		rc = -1;
	}
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
