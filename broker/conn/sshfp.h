/* VerifyHostKeyDNS: a host key against the host's SSHFP records, as ssh's dns.c. */
#ifndef MUXSHIM_SSHFP_H
#define MUXSHIM_SSHFP_H

#include <stddef.h>

enum {
    SSHFP_FOUND = 1,  /* the host has SSHFP records */
    SSHFP_MATCH = 2,  /* one of them is this key, and none of its type and hash differs */
    SSHFP_SECURE = 4, /* the answer was DNSSEC-validated (the AD bit) */
};

/* Look up the SSHFP records of hostname (blocking) and compare them with the key blob, as
 * verify_host_key_dns: -1 when there is no answer (a numeric host, a lookup error, no
 * records), else 0 with *flags (SSHFP_*). */
int sshfp_verify(const char *hostname, const unsigned char *blob, size_t len, int *flags);
/* The same over an answer already in hand (a DNS message of type SSHFP), for tests. */
int sshfp_verify_answer(const unsigned char *answer, int alen, const unsigned char *blob,
                        size_t len, int *flags);

#endif
