/* crc32c.h - CRC-32C (Castagnoli), as used by the record format. */
#ifndef DML_CRC32C_H
#define DML_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over buf; start with crc = 0. */
uint32_t dml_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
