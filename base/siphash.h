/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit pseudorandom
 * function, used here as the message authentication code of heartbeat
 * datagrams (short messages, a 128-bit key shared by the cluster).  The
 * reference's byte order: the key and the message words are read
 * little-endian, and the result is returned as a number (put it on the wire
 * little-endian to match the reference's test vectors). */
#ifndef LMNET_AGENT_SIPHASH_H
#define LMNET_AGENT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_SIZE 16

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_SIZE], const void *data, size_t len);

#endif
