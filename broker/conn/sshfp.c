/* SSHFP look-ups as OpenSSH 9.2's dns.c and getrrsetbyname make them (our code, its facts):
 * key types RSA 1, DSA 2, ECDSA 3, Ed25519 4; hashes SHA-1 1, SHA-256 2 of the key blob. */
#include "sshfp.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "hostkey.h"

#define T_SSHFP_RR 44

/* The SSHFP key-type number of a wire key type; 0 for none. */
static int sshfp_type(const unsigned char *blob, size_t len)
{
    char t[64];
    if (hostkey_blob_type(blob, len, t, sizeof t) < 0)
        return 0;
    if (!strcmp(t, "ssh-rsa"))
        return 1;
    if (!strcmp(t, "ssh-dss"))
        return 2;
    if (!strncmp(t, "ecdsa-sha2-", 11))
        return 3;
    if (!strcmp(t, "ssh-ed25519"))
        return 4;
    return 0;
}

int sshfp_verify_answer(const unsigned char *answer, int alen, const unsigned char *blob,
                        size_t len, int *flags)
{
    ns_msg msg;
    *flags = 0;
    if (ns_initparse(answer, alen, &msg) < 0)
        return -1;
    int n = ns_msg_count(msg, ns_s_an), found = 0, failed = 0, match = 0;
    int ktype = sshfp_type(blob, len);
    for (int i = 0; i < n; i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
            return -1;
        if (ns_rr_type(rr) != T_SSHFP_RR || ns_rr_class(rr) != ns_c_in)
            continue;
        found++;
        const unsigned char *d = ns_rr_rdata(rr);
        int dl = ns_rr_rdlen(rr);
        if (dl < 2)
            continue; /* "Error parsing fingerprint from DNS." (verbose): ignored */
        const EVP_MD *md = d[1] == 1 ? EVP_sha1() : d[1] == 2 ? EVP_sha256() : NULL;
        if (!ktype || !md || d[0] != ktype)
            continue;
        unsigned char h[EVP_MAX_MD_SIZE];
        unsigned int hl = 0;
        EVP_Digest(blob, len, h, &hl, md, NULL);
        if ((int)hl != dl - 2)
            continue;
        if (memcmp(h, d + 2, hl) == 0)
            match = 1;
        else
            failed = 1;
    }
    if (!found)
        return -1; /* getrrsetbyname: no data */
    *flags = SSHFP_FOUND;
    if (match && !failed) /* any fingerprint that fails to validate spoils the match */
        *flags |= SSHFP_MATCH;
    if (ns_msg_getflag(msg, ns_f_ad))
        *flags |= SSHFP_SECURE;
    return 0;
}

int sshfp_verify(const char *hostname, const unsigned char *blob, size_t len, int *flags)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    *flags = 0;
    if (getaddrinfo(hostname, NULL, &hints, &ai) == 0) {
        freeaddrinfo(ai); /* "skipped DNS lookup for numerical hostname" */
        return -1;
    }
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0)
        return -1;
    /* As getrrsetbyname: ask for DNSSEC when EDNS0 is configured. */
    if (st.options & RES_USE_EDNS0)
        st.options |= RES_USE_DNSSEC;
    unsigned char answer[8192];
    int n = res_nquery(&st, hostname, ns_c_in, T_SSHFP_RR, answer, sizeof answer);
    res_nclose(&st);
    if (n < 0)
        return -1; /* "DNS lookup error: …" (verbose) */
    return sshfp_verify_answer(answer, n, blob, len, flags);
}
