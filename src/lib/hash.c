/* hash.c - a simple multiply-xorshift hash over 64-bit words.
 * Independent of how the input is split into update() calls. */
#include "hash.h"

#include <string.h>

#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xBF58476D1CE4E5B9ULL
#define K3 0x94D049BB133111EBULL

static uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w * K2;
	h = (h << 27 | h >> 37) * K1;
	return h ^ (h >> 31);
}

void dml_hash_init(struct dml_hash *s, uint64_t seed)
{
	s->h = seed ^ K3;
	s->total = 0;
	s->tail = 0;
	s->ntail = 0;
}

void dml_hash_update(struct dml_hash *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	s->total += len;
	while (len && s->ntail) {
		s->tail |= (uint64_t)*p++ << (8 * s->ntail);
		len--;
		if (++s->ntail == 8) {
			s->h = mix(s->h, s->tail);
			s->tail = 0;
			s->ntail = 0;
		}
	}
	uint64_t h = s->h;
	while (len >= 8) {
		uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 |
			     (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
			     (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
			     (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
		h = mix(h, w);
		p += 8;
		len -= 8;
	}
	s->h = h;
	while (len--)
		s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
}

uint64_t dml_hash_final(const struct dml_hash *s)
{
	uint64_t h = mix(s->h, s->tail ^ ((uint64_t)s->ntail << 56));
	h = mix(h, s->total);
	h ^= h >> 33;
	h *= K2;
	h ^= h >> 29;
	return h;
}

uint64_t dml_hash(const void *buf, size_t len, uint64_t seed)
{
	struct dml_hash s;
	dml_hash_init(&s, seed);
	dml_hash_update(&s, buf, len);
	return dml_hash_final(&s);
}

static inline __attribute__((always_inline)) uint64_t
word(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

void dml_hash_many(const void *buf, size_t len, size_t stride, size_t n,
		   uint64_t seed, uint64_t *out)
{
	const unsigned char *p = buf;
	size_t i = 0;
	/* four at a time: the chains of multiplies overlap */
	for (; i + 4 <= n; i += 4) {
		const unsigned char *q = p + i * stride;
		struct dml_hash s[4];
		for (int t = 0; t < 4; t++)
			dml_hash_init(&s[t], seed);
		uint64_t h0 = s[0].h, h1 = s[1].h, h2 = s[2].h, h3 = s[3].h;
		size_t j = 0;
		for (; j + 8 <= len; j += 8) {
			h0 = mix(h0, word(q + j));
			h1 = mix(h1, word(q + stride + j));
			h2 = mix(h2, word(q + 2 * stride + j));
			h3 = mix(h3, word(q + 3 * stride + j));
		}
		s[0].h = h0;
		s[1].h = h1;
		s[2].h = h2;
		s[3].h = h3;
		for (int t = 0; t < 4; t++) {
			s[t].total = j;
			dml_hash_update(&s[t], q + t * stride + j, len - j);
			out[i + t] = dml_hash_final(&s[t]);
		}
	}
	for (; i < n; i++)
		out[i] = dml_hash(p + i * stride, len, seed);
}
