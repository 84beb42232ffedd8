/* record.c - reading and writing dml records.
 *
 * Reading checks, in order: magic, header CRC, version, reserved fields,
 * sizes against limits; then the payload is read as it arrives, its CRC
 * checked, and the section framing walked.  Each failure has its own code. */
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "hash.h"

uint32_t dml_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t dml_get64(const unsigned char *p)
{
	return (uint64_t)dml_get32(p) | (uint64_t)dml_get32(p + 4) << 32;
}

void dml_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

void dml_put64(unsigned char *p, uint64_t v)
{
	dml_put32(p, (uint32_t)v);
	dml_put32(p + 4, (uint32_t)(v >> 32));
}

const char *dml_kind_article(uint32_t kind)
{
	return kind == DML_KIND_ENSEMBLE ? "an" : "a";
}

const char *dml_kind_name(uint32_t kind)
{
	switch (kind) {
	case DML_KIND_MODEL: return "model";
	case DML_KIND_GRADIENT: return "gradient";
	case DML_KIND_STATS: return "stats";
	case DML_KIND_ENSEMBLE: return "ensemble";
	case DML_KIND_DATA: return "data";
	default: return "unknown";
	}
}

void dml_record_init(struct dml_record *rec)
{
	memset(rec, 0, sizeof *rec);
}

/* Let go of the payload: free it, unmap it, or forget a borrowed one. */
static void drop_payload(struct dml_record *rec)
{
	if (rec->map)
		munmap(rec->map, rec->map_len);
	else if (!rec->borrowed)
		free(rec->payload);
	rec->payload = NULL;
	rec->cap = 0;
	rec->borrowed = 0;
	rec->map = NULL;
	rec->map_len = 0;
}

void dml_record_free(struct dml_record *rec)
{
	drop_payload(rec);
	memset(rec, 0, sizeof *rec);
}

static void encode_header(unsigned char *p, const struct dml_header *h)
{
	memcpy(p, DML_MAGIC, DML_MAGIC_LEN); /* includes the NUL */
	p[8] = (unsigned char)h->version;
	p[9] = (unsigned char)(h->version >> 8);
	p[10] = (unsigned char)h->kind;
	p[11] = (unsigned char)(h->kind >> 8);
	dml_put32(p + 12, h->flags);
	dml_put32(p + 16, h->family);
	dml_put32(p + 20, h->nsections);
	dml_put64(p + 24, h->payload_len);
	dml_put64(p + 32, h->schema);
	dml_put64(p + 40, h->basis);
	dml_put64(p + 48, h->iteration);
	dml_put64(p + 56, h->samples);
	dml_put64(p + 64, h->contributions);
	dml_put32(p + 72, 0);
	dml_put32(p + 76, dml_crc32c(0, p, 76));
}

static enum dml_err decode_header(const unsigned char *p, struct dml_header *h,
				  struct dml_error *err)
{
	if (memcmp(p, DML_MAGIC, DML_MAGIC_LEN) != 0)
		return dml_fail(err, DML_EMAGIC, NULL);
	if (dml_crc32c(0, p, 76) != dml_get32(p + 76))
		return dml_fail(err, DML_EHEADER, NULL);
	h->version = (uint16_t)(p[8] | p[9] << 8);
	h->kind = (uint16_t)(p[10] | p[11] << 8);
	h->flags = dml_get32(p + 12);
	h->family = dml_get32(p + 16);
	h->nsections = dml_get32(p + 20);
	h->payload_len = dml_get64(p + 24);
	h->schema = dml_get64(p + 32);
	h->basis = dml_get64(p + 40);
	h->iteration = dml_get64(p + 48);
	h->samples = dml_get64(p + 56);
	h->contributions = dml_get64(p + 64);
	if (h->version != DML_VERSION)
		return dml_fail(err, DML_EVERSION,
				"format version %u is not supported "
				"(this reader knows version %u)",
				h->version, DML_VERSION);
	if (h->flags != 0 || dml_get32(p + 72) != 0)
		return dml_fail(err, DML_EUNSUPPORTED,
				"reserved header bits are set");
	if (h->kind < 1 || h->kind > DML_KIND_MAX)
		return dml_fail(err, DML_EUNSUPPORTED, "unknown record kind %u",
				h->kind);
	if (h->payload_len > DML_MAX_PAYLOAD)
		return dml_fail(err, DML_ETOOBIG,
				"payload of %llu bytes exceeds the limit",
				(unsigned long long)h->payload_len);
	if (h->payload_len % 8)
		return dml_fail(err, DML_EFORMAT,
				"payload length %llu is not a multiple of 8",
				(unsigned long long)h->payload_len);
	if (h->nsections > DML_MAX_SECTIONS ||
	    (uint64_t)h->nsections * DML_SECTION_HEADER > h->payload_len)
		return dml_fail(err, DML_ETOOBIG, "%u sections do not fit",
				h->nsections);
	return DML_OK;
}

/* Walk the section framing of a checksummed payload. */
static enum dml_err check_sections(const struct dml_record *rec,
				   struct dml_error *err)
{
	uint64_t pos = 0, len = rec->h.payload_len;
	uint32_t n = 0;
	while (pos < len) {
		if (len - pos < DML_SECTION_HEADER)
			return dml_fail(err, DML_EFORMAT,
					"section header cut at byte %llu",
					(unsigned long long)pos);
		const unsigned char *s = rec->payload + pos;
		uint32_t flags = dml_get32(s + 4);
		uint64_t slen = dml_get64(s + 8);
		if (flags & ~DML_SECF_OPTIONAL)
			return dml_fail(err, DML_EUNSUPPORTED,
					"section %u has reserved flags set",
					dml_get32(s));
		if (slen > len - pos - DML_SECTION_HEADER)
			return dml_fail(err, DML_ETOOBIG,
					"section %u claims %llu bytes, "
					"%llu remain",
					dml_get32(s), (unsigned long long)slen,
					(unsigned long long)(len - pos -
							     DML_SECTION_HEADER));
		uint64_t padded = (slen + 7) & ~UINT64_C(7);
		if (padded > len - pos - DML_SECTION_HEADER)
			return dml_fail(err, DML_EFORMAT, "section padding cut");
		for (uint64_t i = slen; i < padded; i++)
			if (s[DML_SECTION_HEADER + i])
				return dml_fail(err, DML_EFORMAT,
						"nonzero section padding");
		pos += DML_SECTION_HEADER + padded;
		n++;
	}
	if (n != rec->h.nsections)
		return dml_fail(err, DML_EFORMAT,
				"header says %u sections, payload holds %u",
				rec->h.nsections, n);
	return DML_OK;
}

/* Room for need bytes of payload; the payload is never NULL after this,
 * even for an empty one, so that it can be handed to memcpy. */
static enum dml_err ensure_cap(struct dml_record *rec, size_t need)
{
	if (rec->borrowed)
		drop_payload(rec);
	if (rec->payload && rec->cap >= need)
		return DML_OK;
	unsigned char *p = realloc(rec->payload, need ? need : 1);
	if (!p)
		return DML_ENOMEM;
	rec->payload = p;
	rec->cap = need;
	return DML_OK;
}

/* The offset of the first whole record header (magic and header checksum
 * right) inside the payload, or -1.  A stream in which one writer's record
 * was cut short and another's followed (a worker killed while GNU parallel
 * passes on what it wrote, say) reads as one record whose checksum fails;
 * this tells the two apart. */
static long long embedded_header(const unsigned char *p, size_t len)
{
	if (len < DML_HEADER_SIZE)
		return -1;
	const unsigned char *m = p, *last = p + len - DML_HEADER_SIZE;
	while ((m = memchr(m, DML_MAGIC[0], (size_t)(last - m) + 1))) {
		if (memcmp(m, DML_MAGIC, DML_MAGIC_LEN) == 0 &&
		    dml_crc32c(0, m, 76) == dml_get32(m + 76))
			return (long long)(m - p);
		if (m++ == last)
			break;
	}
	return -1;
}

static enum dml_err cut_short(long long at, uint64_t want,
			      struct dml_error *err)
{
	return dml_fail(err, DML_ETRUNC,
			"cut short after %lld of %llu payload bytes, "
			"where another record starts",
			at, (unsigned long long)want);
}

/* The stream ended after have of the want bytes of payload p. */
static enum dml_err ended(const unsigned char *p, size_t have, uint64_t want,
			  struct dml_error *err)
{
	long long at = embedded_header(p, have);
	if (at >= 0)
		return cut_short(at, want, err);
	return dml_fail(err, DML_ETRUNC, "stream ends after %llu of %llu "
			"payload bytes", (unsigned long long)have,
			(unsigned long long)want);
}

/* crc: of the header and the payload. */
static enum dml_err verify(const struct dml_record *rec, uint32_t crc,
			   const unsigned char *trailer, struct dml_error *err)
{
	if (crc != dml_get32(trailer)) {
		long long at = embedded_header(rec->payload,
					       (size_t)rec->h.payload_len);
		if (at >= 0)
			return cut_short(at, rec->h.payload_len, err);
		return dml_fail(err, DML_ECHECKSUM, NULL);
	}
	if (dml_get32(trailer + 4) != 0)
		return dml_fail(err, DML_EUNSUPPORTED,
				"reserved trailer bits are set");
	return check_sections(rec, err);
}

static enum dml_err finish_read(struct dml_record *rec,
				const unsigned char *hdr,
				const unsigned char *trailer,
				struct dml_error *err)
{
	uint32_t crc = dml_crc32c(0, hdr, DML_HEADER_SIZE);
	crc = dml_crc32c(crc, rec->payload, rec->h.payload_len);
	return verify(rec, crc, trailer, err);
}

/* Payload bytes read at a time: the checksum (and a source's hash) go
 * over them while they are in the cache. */
#define READ_PIECE (UINT64_C(1) << 20)

/* Read exactly n bytes unless the input ends: returns the count, or -1
 * on a read error. */
typedef long long (*read_fn)(void *ctx, void *buf, size_t n);

static long long file_read(void *ctx, void *buf, size_t n)
{
	FILE *f = ctx;
	size_t got = fread(buf, 1, n, f);
	if (got < n && ferror(f))
		return -1;
	return (long long)got;
}

static const char *src_map(struct dml_src *s, size_t want, size_t *len,
			   struct dml_src_view *v, int hash);

/* Payloads from this size on are mapped where the source allows (the
 * fuzz targets set a small size, so that their records are mapped). */
#ifndef DML_MAP_PAYLOAD
#define DML_MAP_PAYLOAD (UINT64_C(1) << 20)
#endif

/* ms: the source, when ctx is one whose payloads may be mapped. */
static enum dml_err read_record(read_fn rd, void *ctx, struct dml_src *ms,
				struct dml_record *rec, struct dml_error *err)
{
	unsigned char hdr[DML_HEADER_SIZE], trailer[DML_TRAILER_SIZE];
	long long got = rd(ctx, hdr, sizeof hdr);
	if (got < 0)
		return dml_fail(err, DML_EIO, NULL);
	if (got == 0)
		return DML_EEMPTY;
	size_t cmp = (size_t)got < 8 ? (size_t)got : 8;
	if (memcmp(hdr, DML_MAGIC, cmp) != 0)
		return dml_fail(err, DML_EMAGIC, NULL);
	if ((size_t)got < sizeof hdr) {
		return dml_fail(err, DML_ETRUNC,
				"stream ends inside a record header");
	}
	enum dml_err rc = decode_header(hdr, &rec->h, err);
	if (rc)
		return rc;
	uint64_t want = rec->h.payload_len, have = 0;
	uint32_t crc = dml_crc32c(0, hdr, DML_HEADER_SIZE);
	struct dml_src_view v;
	size_t n;
	int map = ms && want >= DML_MAP_PAYLOAD && want <= SIZE_MAX;
	const unsigned char *p =
		map ? (const unsigned char *)src_map(ms, (size_t)want, &n,
						     &v, 0)
		    : NULL;
	if (p) {
		/* the file's own pages, not a copy; the hash and checksum
		 * go over a piece at a time, while it is in the cache */
		for (size_t at = 0; at < n; at += READ_PIECE) {
			size_t k = n - at < READ_PIECE ? n - at : READ_PIECE;
			if (ms->hash)
				dml_hash_update(ms->hash, p + at, k);
			crc = dml_crc32c(crc, p + at, k);
		}
		if (n < want) {
			rc = ended(p, n, want, err);
			dml_src_unmap(&v);
			return rc;
		}
		drop_payload(rec);
		rec->payload = (unsigned char *)p;
		rec->borrowed = 1;
		rec->map = v.base;
		rec->map_len = v.len;
		have = want;
	} else if (ensure_cap(rec, 0)) {
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	/* Grow with the bytes that really arrive. */
	while (have < want) {
		uint64_t chunk = want - have;
		size_t step = rec->cap > have ? rec->cap - have : 0;
		if (step == 0) {
			size_t next = rec->cap ? rec->cap * 2 : 65536;
			if (next > want)
				next = (size_t)want;
			if (ensure_cap(rec, next))
				return dml_fail(err, DML_ENOMEM, NULL);
			step = rec->cap - have;
		}
		if (chunk > step)
			chunk = step;
		if (chunk > READ_PIECE)
			chunk = READ_PIECE;
		got = rd(ctx, rec->payload + have, (size_t)chunk);
		if (got < 0)
			return dml_fail(err, DML_EIO, NULL);
		crc = dml_crc32c(crc, rec->payload + have, (size_t)got);
		have += (uint64_t)got;
		if ((uint64_t)got < chunk)
			return ended(rec->payload, (size_t)have, want, err);
	}
	got = rd(ctx, trailer, sizeof trailer);
	if (got < 0)
		return dml_fail(err, DML_EIO, NULL);
	if ((size_t)got < sizeof trailer)
		return dml_fail(err, DML_ETRUNC,
				"stream ends before the checksum");
	return verify(rec, crc, trailer, err);
}

enum dml_err dml_record_read(FILE *f, struct dml_record *rec,
			     struct dml_error *err)
{
	return read_record(file_read, f, NULL, rec, err);
}

/* ---- byte sources over a file descriptor ---- */

void dml_src_init(struct dml_src *s, int fd, struct dml_hash *hash)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->hash = hash;
}

/* Up to n of the bytes p[*pos .. len) into buf: their count. */
static long long take(void *buf, size_t n, const unsigned char *p,
		      size_t len, size_t *pos)
{
	size_t k = len - *pos;
	if (k > n)
		k = n;
	memcpy(buf, p + *pos, k);
	*pos += k;
	return (long long)k;
}

long long dml_src_read_some(struct dml_src *s, void *buf, size_t n)
{
	if (n == 0)
		return 0;
	if (s->pos < s->npre)
		return take(buf, n, s->pre, s->npre, &s->pos);
	if (s->backpos < s->nback)
		return take(buf, n, s->back, s->nback, &s->backpos);
	for (;;) {
		ssize_t got = read(s->fd, buf, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got > 0 && s->hash)
			dml_hash_update(s->hash, buf, (size_t)got);
		return got;
	}
}

/* dml_src_map; hash 0: the caller feeds the bytes to s->hash itself. */
static const char *src_map(struct dml_src *s, size_t want, size_t *len,
			   struct dml_src_view *v, int hash)
{
	v->base = NULL;
	v->len = 0;
	*len = 0;
	if (s->pos < s->npre || s->backpos < s->nback || want == 0)
		return NULL;
	struct stat st;
	if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	off_t at = lseek(s->fd, 0, SEEK_CUR);
	if (at < 0 || at >= st.st_size)
		return NULL; /* (at the end: read says so) */
	long pg = sysconf(_SC_PAGESIZE);
	off_t from = at - at % (pg > 0 ? pg : 4096);
	uint64_t left = (uint64_t)(st.st_size - at);
	size_t n = left < want ? (size_t)left : want;
	size_t maplen = (size_t)(at - from) + n;
	void *m = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, s->fd, from);
	if (m == MAP_FAILED)
		return NULL;
	if (lseek(s->fd, at + (off_t)n, SEEK_SET) < 0) {
		munmap(m, maplen);
		return NULL;
	}
	(void)madvise(m, maplen, MADV_SEQUENTIAL);
	const char *p = (const char *)m + (at - from);
	if (s->hash && hash)
		dml_hash_update(s->hash, p, n);
	v->base = m;
	v->len = maplen;
	*len = n;
	return p;
}

const char *dml_src_map(struct dml_src *s, size_t want, size_t *len,
			struct dml_src_view *v)
{
	return src_map(s, want, len, v, 1);
}

void dml_src_unmap(struct dml_src_view *v)
{
	if (v->base)
		munmap(v->base, v->len);
	v->base = NULL;
	v->len = 0;
}

long long dml_src_read(struct dml_src *s, void *buf, size_t n)
{
	size_t have = 0;
	while (have < n) {
		long long got = dml_src_read_some(s, (char *)buf + have,
						  n - have);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		have += (size_t)got;
	}
	return (long long)have;
}

int dml_src_is_record(struct dml_src *s)
{
	if (s->npre == 0 && s->pos == 0) {
		long long got = dml_src_read(s, s->pre, DML_MAGIC_LEN);
		if (got < 0)
			return -1;
		s->npre = (size_t)got;
		s->pos = 0;
	}
	return s->npre == DML_MAGIC_LEN &&
	       memcmp(s->pre, DML_MAGIC, DML_MAGIC_LEN) == 0;
}

static long long src_read(void *ctx, void *buf, size_t n)
{
	return dml_src_read(ctx, buf, n);
}

enum dml_err dml_record_read_src(struct dml_src *s, struct dml_record *rec,
				 struct dml_error *err)
{
	return read_record(src_read, s, s, rec, err);
}

/* copy: 1 into rec's own payload, 0 a view, -1 a view left unchecked */
static enum dml_err parse(const unsigned char *buf, size_t len,
			  size_t *used, struct dml_record *rec, int copy,
			  struct dml_error *err)
{
	*used = 0;
	if (len == 0)
		return DML_EEMPTY;
	if (len < DML_HEADER_SIZE)
		return dml_fail(err, memcmp(buf, DML_MAGIC,
					    len < 8 ? len : 8) ? DML_EMAGIC
							       : DML_ETRUNC,
				NULL);
	enum dml_err rc = decode_header(buf, &rec->h, err);
	if (rc)
		return rc;
	uint64_t total = DML_HEADER_SIZE + rec->h.payload_len +
			 DML_TRAILER_SIZE;
	if (total > len)
		return dml_fail(err, DML_ETRUNC, NULL);
	if (copy <= 0) {
		drop_payload(rec);
		rec->payload = (unsigned char *)buf + DML_HEADER_SIZE;
		rec->borrowed = 1;
	} else if (ensure_cap(rec, (size_t)rec->h.payload_len)) {
		return dml_fail(err, DML_ENOMEM, NULL);
	} else {
		memcpy(rec->payload, buf + DML_HEADER_SIZE,
		       (size_t)rec->h.payload_len);
	}
	if (copy >= 0)
		rc = finish_read(rec, buf,
				 buf + DML_HEADER_SIZE + rec->h.payload_len,
				 err);
	if (rc == DML_OK)
		*used = (size_t)total;
	return rc;
}

enum dml_err dml_record_parse(const unsigned char *buf, size_t len,
			      size_t *used, struct dml_record *rec,
			      struct dml_error *err)
{
	return parse(buf, len, used, rec, 1, err);
}

enum dml_err dml_record_view(const unsigned char *buf, size_t len,
			     size_t *used, struct dml_record *rec,
			     struct dml_error *err)
{
	return parse(buf, len, used, rec, 0, err);
}

enum dml_err dml_record_view_lazy(const unsigned char *buf, size_t len,
				  size_t *used, struct dml_record *rec,
				  struct dml_error *err)
{
	return parse(buf, len, used, rec, -1, err);
}

int dml_record_framed(const struct dml_record *rec)
{
	return check_sections(rec, NULL) == DML_OK;
}

enum dml_err dml_record_view_check(const struct dml_record *rec,
				   uint32_t payload_crc, struct dml_error *err)
{
	const unsigned char *hdr = rec->payload - DML_HEADER_SIZE;
	uint32_t crc = dml_crc32c(0, hdr, DML_HEADER_SIZE);
	crc = dml_crc32c_combine(crc, payload_crc, rec->h.payload_len);
	return verify(rec, crc, rec->payload + rec->h.payload_len, err);
}

int dml_record_next(const struct dml_record *rec, uint64_t *pos,
		    struct dml_section *sec)
{
	if (*pos + DML_SECTION_HEADER > rec->h.payload_len)
		return 0;
	const unsigned char *s = rec->payload + *pos;
	sec->tag = dml_get32(s);
	sec->flags = dml_get32(s + 4);
	sec->len = dml_get64(s + 8);
	sec->data = s + DML_SECTION_HEADER;
	*pos += DML_SECTION_HEADER + ((sec->len + 7) & ~UINT64_C(7));
	return 1;
}

int dml_record_find(const struct dml_record *rec, uint32_t tag,
		    struct dml_section *sec)
{
	uint64_t pos = 0;
	while (dml_record_next(rec, &pos, sec))
		if (sec->tag == tag)
			return 1;
	return 0;
}

enum dml_err dml_record_check_known(const struct dml_record *rec,
				    const uint32_t *known, size_t nknown,
				    struct dml_error *err)
{
	uint64_t pos = 0;
	struct dml_section sec;
	while (dml_record_next(rec, &pos, &sec)) {
		if (sec.flags & DML_SECF_OPTIONAL)
			continue;
		size_t i;
		for (i = 0; i < nknown; i++)
			if (known[i] == sec.tag)
				break;
		if (i == nknown)
			return dml_fail(err, DML_EUNSUPPORTED,
					"unknown required section %u in a %s "
					"record",
					sec.tag, dml_kind_name(rec->h.kind));
	}
	return DML_OK;
}

uint64_t dml_record_hash(const struct dml_record *rec)
{
	unsigned char hdr[DML_HEADER_SIZE];
	encode_header(hdr, &rec->h);
	struct dml_hash s;
	dml_hash_init(&s, DML_HASH_SEED);
	dml_hash_update(&s, hdr, sizeof hdr);
	dml_hash_update(&s, rec->payload, (size_t)rec->h.payload_len);
	return dml_hash_final(&s);
}

/* ---- writer ---- */

void dml_buf_init(struct dml_buf *b)
{
	memset(b, 0, sizeof *b);
	dml_buf_reserve(b, DML_HEADER_SIZE);
}

void dml_buf_free(struct dml_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

unsigned char *dml_buf_reserve(struct dml_buf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = 1;
				return NULL;
			}
			cap *= 2;
		}
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	unsigned char *r = b->p + b->len;
	memset(r, 0, n);
	b->len += n;
	return r;
}

void dml_buf_section(struct dml_buf *b, uint32_t tag, uint32_t flags)
{
	if (b->sec_start)
		dml_buf_end(b);
	size_t at = b->len;
	unsigned char *s = dml_buf_reserve(b, DML_SECTION_HEADER);
	if (!s)
		return;
	dml_put32(s, tag);
	dml_put32(s + 4, flags);
	b->sec_start = at;
	b->nsections++;
}

void dml_buf_end(struct dml_buf *b)
{
	if (!b->sec_start || b->oom)
		return;
	uint64_t len = b->len - b->sec_start - DML_SECTION_HEADER;
	dml_put64(b->p + b->sec_start + 8, len);
	size_t pad = (size_t)((8 - len % 8) % 8);
	dml_buf_reserve(b, pad);
	b->sec_start = 0;
}

void dml_buf_bytes(struct dml_buf *b, const void *p, size_t n)
{
	unsigned char *d = dml_buf_reserve(b, n);
	if (d && n)
		memcpy(d, p, n);
}

void dml_buf_u32(struct dml_buf *b, uint32_t v)
{
	unsigned char *d = dml_buf_reserve(b, 4);
	if (d)
		dml_put32(d, v);
}

void dml_buf_u64(struct dml_buf *b, uint64_t v)
{
	unsigned char *d = dml_buf_reserve(b, 8);
	if (d)
		dml_put64(d, v);
}

void dml_buf_f64(struct dml_buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	dml_buf_u64(b, u);
}

void dml_buf_f64s(struct dml_buf *b, const double *v, size_t n)
{
	unsigned char *d = dml_buf_reserve(b, 8 * n);
	if (!d)
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		memcpy(&u, &v[i], 8);
		dml_put64(d + 8 * i, u);
	}
}

void dml_buf_str(struct dml_buf *b, const char *s)
{
	size_t n = strlen(s);
	dml_buf_u32(b, (uint32_t)n);
	dml_buf_bytes(b, s, n);
}

enum dml_err dml_buf_finish(struct dml_buf *b, const struct dml_header *h)
{
	if (b->sec_start)
		dml_buf_end(b);
	if (b->oom)
		return DML_ENOMEM;
	struct dml_header hh = *h;
	hh.version = DML_VERSION;
	hh.flags = 0;
	hh.nsections = b->nsections;
	hh.payload_len = b->len - DML_HEADER_SIZE;
	if (hh.payload_len > DML_MAX_PAYLOAD)
		return DML_ETOOBIG;
	encode_header(b->p, &hh);
	uint32_t crc = dml_crc32c(0, b->p, b->len);
	unsigned char *t = dml_buf_reserve(b, DML_TRAILER_SIZE);
	if (!t)
		return DML_ENOMEM;
	dml_put32(t, crc);
	return DML_OK;
}

/* ---- cursor ---- */

void dml_cur_init(struct dml_cur *c, const struct dml_section *sec)
{
	c->p = sec->data;
	c->left = sec->len;
	c->bad = 0;
}

const unsigned char *dml_cur_bytes(struct dml_cur *c, uint64_t n)
{
	if (c->bad || n > c->left) {
		c->bad = 1;
		return NULL;
	}
	const unsigned char *p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

uint32_t dml_cur_u32(struct dml_cur *c)
{
	const unsigned char *p = dml_cur_bytes(c, 4);
	return p ? dml_get32(p) : 0;
}

uint64_t dml_cur_u64(struct dml_cur *c)
{
	const unsigned char *p = dml_cur_bytes(c, 8);
	return p ? dml_get64(p) : 0;
}

double dml_cur_f64(struct dml_cur *c)
{
	uint64_t u = dml_cur_u64(c);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

const char *dml_cur_str(struct dml_cur *c, uint32_t *len)
{
	uint32_t n = dml_cur_u32(c);
	if (n > DML_MAX_STRING)
		c->bad = 1;
	const unsigned char *p = dml_cur_bytes(c, n);
	*len = p ? n : 0;
	return (const char *)p;
}

int dml_cur_f64s(struct dml_cur *c, double *out, uint64_t n)
{
	if (n > c->left / 8) {
		c->bad = 1;
		return 0;
	}
	const unsigned char *p = dml_cur_bytes(c, 8 * n);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t u = dml_get64(p + 8 * i);
		memcpy(&out[i], &u, 8);
	}
	return 1;
}
