/* record.h - the dml record format (see man/dml-format.5).
 *
 * A record is an 80-byte header, a payload of tagged sections, and an
 * 8-byte trailer.  All integers little-endian, all fields fixed width.
 *
 *   header:  magic[8] version:u16 kind:u16 flags:u32 family:u32
 *            nsections:u32 payload_len:u64 schema:u64 basis:u64
 *            iteration:u64 samples:u64 contributions:u64 reserved:u32
 *            header_crc:u32          (CRC-32C of bytes 0..75)
 *   payload: sections, each  tag:u32 flags:u32 length:u64 data[length]
 *            zero padding to a multiple of 8
 *   trailer: crc:u32 (CRC-32C of header and payload) reserved:u32 = 0
 */
#ifndef DML_RECORD_H
#define DML_RECORD_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "hash.h"

#define DML_MAGIC "\x89" "DML\r\n\x1a"  /* followed by a NUL: 8 bytes */
#define DML_MAGIC_LEN 8
#define DML_VERSION 1
#define DML_HEADER_SIZE 80
#define DML_TRAILER_SIZE 8
#define DML_SECTION_HEADER 16
/* Largest payload a reader accepts (a data block or a big model). */
#define DML_MAX_PAYLOAD (UINT64_C(1) << 32)
#define DML_MAX_SECTIONS 4096
#define DML_MAX_STRING (UINT32_C(1) << 20)

enum dml_kind {
	DML_KIND_MODEL = 1,
	DML_KIND_GRADIENT = 2,
	DML_KIND_STATS = 3,
	DML_KIND_ENSEMBLE = 4,
	DML_KIND_DATA = 5,
};
#define DML_KIND_MAX 5

/* Section tags (required unless the section's flags say optional). */
enum dml_tag {
	DML_SEC_SCHEMA = 1,   /* feature names and label column */
	DML_SEC_LABELS = 2,   /* class labels, with counts */
	DML_SEC_LEAVES = 3,   /* sorted 64-bit leaf identities */
	DML_SEC_PARAMS = 4,   /* hyper-parameters: key:u32, type:u32 (0 u64,
	                       * 1 f64), value:u64 */
	DML_SEC_SCALER = 5,   /* per-feature mean and scale, f64 */
	DML_SEC_WEIGHTS = 6,  /* rows:u32 cols:u32 f64[rows*cols] */
	DML_SEC_OPTIM = 7,    /* optimizer state */
	DML_SEC_SUMS = 8,     /* exact sums: count:u64, 24-byte fixed point */
	DML_SEC_MEMBER = 9,   /* an embedded record (ensembles) */
	DML_SEC_NOTE = 10,    /* free text (optional) */
	DML_SEC_ROWS = 11,    /* a block of data rows */
	DML_SEC_RANGE = 12,   /* per-feature minimum and maximum, f64 */
	DML_SEC_CENTERS = 13, /* k-means: k:u32 nfeat:u32 f64[k*nfeat] */
	DML_SEC_KMSTATE = 14, /* k-means: phase, stop, centers, steps... */
	DML_SEC_KMPICK = 15,  /* k-means seeding: race time and row */
	DML_SEC_TARGET = 22,  /* regression target sums (and X'X, X'y) */
	DML_SEC_XPROD = 16,   /* exact cross products XᵀX (stats) */
	DML_SEC_GAUSS = 17,   /* Gaussian anomaly model */
	DML_SEC_COMPONENTS = 18, /* principal components */
	DML_SEC_LAYERS = 19,  /* mlp layer sizes and activation */
	DML_SEC_TREE = 25,    /* one decision tree: nodes and leaf counts */
	DML_SEC_COMBINE = 26, /* how an ensemble combines: rule, weights */
	DML_SEC_META = 27,    /* an ensemble's stacked meta-model record */
};
#define DML_SECF_OPTIONAL 1u

struct dml_header {
	uint16_t version;
	uint16_t kind;
	uint32_t flags;
	uint32_t family;
	uint32_t nsections;
	uint64_t payload_len;
	uint64_t schema;        /* feature schema fingerprint */
	uint64_t basis;         /* hash of the model a gradient was taken at */
	uint64_t iteration;
	uint64_t samples;
	uint64_t contributions;
};

struct dml_record {
	struct dml_header h;
	unsigned char *payload; /* owned unless borrowed; h.payload_len bytes */
	size_t cap;
	int borrowed;           /* payload points into the caller's bytes */
	void *map;              /* or into this mapping of a file, its own */
	size_t map_len;
};

struct dml_section {
	uint32_t tag;
	uint32_t flags;
	const unsigned char *data;
	uint64_t len;
};

const char *dml_kind_name(uint32_t kind);
/* "a" or "an", to go before dml_kind_name(kind). */
const char *dml_kind_article(uint32_t kind);

void dml_record_init(struct dml_record *rec);
void dml_record_free(struct dml_record *rec);

/* Read the next record.  Returns DML_OK and fills rec, or DML_EEMPTY at a
 * clean end of input (no byte read), or an error.  Memory grows with the
 * bytes actually read, never with what a header claims. */
enum dml_err dml_record_read(FILE *f, struct dml_record *rec,
			     struct dml_error *err);
/* Same over a byte buffer; *used is set to the bytes consumed. */
enum dml_err dml_record_parse(const unsigned char *buf, size_t len,
			      size_t *used, struct dml_record *rec,
			      struct dml_error *err);

/* Same, but rec's payload points into buf (which must outlive its use)
 * instead of being copied: for input mapped into memory. */
enum dml_err dml_record_view(const unsigned char *buf, size_t len,
			     size_t *used, struct dml_record *rec,
			     struct dml_error *err);
/* A view whose payload checksum and section framing are left to the
 * caller, who checksums the payload in pieces as it uses it (joined with
 * dml_crc32c_combine) and then asks dml_record_view_check, which fails as
 * dml_record_view would have.  dml_record_framed: whether the sections
 * can be walked (checked first, before any use of them). */
enum dml_err dml_record_view_lazy(const unsigned char *buf, size_t len,
				  size_t *used, struct dml_record *rec,
				  struct dml_error *err);
int dml_record_framed(const struct dml_record *rec);
enum dml_err dml_record_view_check(const struct dml_record *rec,
				   uint32_t payload_crc, struct dml_error *err);

/* A byte source over a file descriptor.  Bytes peeked to tell a record
 * from text are handed back first, then the bytes of back (a caller's
 * buffer of bytes already read, set by a reader that looked further
 * ahead); every byte read from the descriptor is fed to hash when one is
 * given. */
struct dml_src {
	int fd;
	unsigned char pre[8];
	size_t npre, pos;
	struct dml_hash *hash;
	const unsigned char *back;
	size_t nback, backpos;
};

void dml_src_init(struct dml_src *s, int fd, struct dml_hash *hash);
/* 1 if the input starts with the record magic, 0 if not, -1 on error. */
int dml_src_is_record(struct dml_src *s);
/* What one read(2) gives (peeked bytes first): 0 at the end, -1 error. */
long long dml_src_read_some(struct dml_src *s, void *buf, size_t n);
/* n bytes unless the input ends first. */
long long dml_src_read(struct dml_src *s, void *buf, size_t n);
/* The next bytes of a regular file without copying them: up to want
 * bytes mapped (their count in *len), the file position and the hash
 * moved past them; v is given to dml_src_unmap when they are done with.
 * NULL where the bytes must be read instead: not a regular file, peeked
 * bytes still to come, at the end, or the mapping failed. */
struct dml_src_view {
	void *base;
	size_t len;
};
const char *dml_src_map(struct dml_src *s, size_t want, size_t *len,
			struct dml_src_view *v);
void dml_src_unmap(struct dml_src_view *v);
/* The next record; a large payload in a regular file is mapped rather
 * than read, until the record is read over or freed. */
enum dml_err dml_record_read_src(struct dml_src *s, struct dml_record *rec,
				 struct dml_error *err);

/* Find the first section with this tag: 1 if found. */
int dml_record_find(const struct dml_record *rec, uint32_t tag,
		    struct dml_section *sec);
/* Iterate: *pos starts at 0; returns 1 while there is a section. */
int dml_record_next(const struct dml_record *rec, uint64_t *pos,
		    struct dml_section *sec);
/* Fail on a required section whose tag is not in known[]. */
enum dml_err dml_record_check_known(const struct dml_record *rec,
				    const uint32_t *known, size_t nknown,
				    struct dml_error *err);
/* Hash of the record as written (header and payload). */
uint64_t dml_record_hash(const struct dml_record *rec);

/* ---- building a record ---- */
struct dml_buf {
	unsigned char *p;
	size_t len, cap;
	size_t sec_start;   /* offset of the open section header, or 0 */
	uint32_t nsections;
	int oom;
};

void dml_buf_init(struct dml_buf *b);          /* reserves the header */
void dml_buf_free(struct dml_buf *b);
void dml_buf_section(struct dml_buf *b, uint32_t tag, uint32_t flags);
void dml_buf_end(struct dml_buf *b);           /* close the open section */
void dml_buf_u32(struct dml_buf *b, uint32_t v);
void dml_buf_u64(struct dml_buf *b, uint64_t v);
void dml_buf_f64(struct dml_buf *b, double v);
void dml_buf_f64s(struct dml_buf *b, const double *v, size_t n);
void dml_buf_str(struct dml_buf *b, const char *s);  /* u32 len + bytes */
void dml_buf_bytes(struct dml_buf *b, const void *p, size_t n);
unsigned char *dml_buf_reserve(struct dml_buf *b, size_t n);
/* Fill the header (version, nsections, payload_len set here) and trailer.
 * Afterwards b->p / b->len hold the whole record. */
enum dml_err dml_buf_finish(struct dml_buf *b, const struct dml_header *h);

/* ---- reading section contents, bounds-checked ---- */
struct dml_cur {
	const unsigned char *p;
	uint64_t left;
	int bad;
};

void dml_cur_init(struct dml_cur *c, const struct dml_section *sec);
uint32_t dml_cur_u32(struct dml_cur *c);
uint64_t dml_cur_u64(struct dml_cur *c);
double dml_cur_f64(struct dml_cur *c);
/* Returns a pointer into the section, not NUL-terminated. */
const char *dml_cur_str(struct dml_cur *c, uint32_t *len);
const unsigned char *dml_cur_bytes(struct dml_cur *c, uint64_t n);
/* Read n f64 into out (n checked against what is left first). */
int dml_cur_f64s(struct dml_cur *c, double *out, uint64_t n);

uint64_t dml_get64(const unsigned char *p);
uint32_t dml_get32(const unsigned char *p);
void dml_put64(unsigned char *p, uint64_t v);
void dml_put32(unsigned char *p, uint32_t v);

#endif
