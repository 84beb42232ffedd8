/* hash.h - 64-bit non-cryptographic hash for fingerprints and leaf ids. */
#ifndef DML_HASH_H
#define DML_HASH_H

#include <stddef.h>
#include <stdint.h>

#define DML_HASH_SEED 0x646d6c2d68617368ULL /* "dml-hash" */

/* Incremental: h = dml_hash_init(seed); h = dml_hash_update(...); ...
 * dml_hash_final(h).  Updates must be fed the same byte sequence in the
 * same chunking-independent way: the state keeps a partial word. */
struct dml_hash {
	uint64_t h;
	uint64_t total;
	uint64_t tail;
	unsigned ntail;
};

void dml_hash_init(struct dml_hash *s, uint64_t seed);
void dml_hash_update(struct dml_hash *s, const void *buf, size_t len);
uint64_t dml_hash_final(const struct dml_hash *s);
uint64_t dml_hash(const void *buf, size_t len, uint64_t seed);
/* out[i] = dml_hash(buf + i * stride, len, seed) for i < n. */
void dml_hash_many(const void *buf, size_t len, size_t stride, size_t n,
		   uint64_t seed, uint64_t *out);

#endif
