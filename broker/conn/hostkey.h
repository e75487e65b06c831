/* known_hosts: lookup (plain, patterns, hashed, @revoked, @cert-authority) and appending. */
#ifndef MUXSHIM_HOSTKEY_H
#define MUXSHIM_HOSTKEY_H

#include <stddef.h>

#include "sshconfig.h"

enum hk_result {
    HK_UNKNOWN = 0, /* no line names this host */
    HK_MATCH,       /* a plain line for this host holds this key */
    HK_CHANGED,     /* the host is known, but not with this key */
    HK_REVOKED,     /* an @revoked line holds this key */
    HK_CA_ONLY,     /* only @cert-authority lines name this host (cannot verify: fall back) */
};

#define HK_MAX_TYPES 16

/* The name OpenSSH looks up: hostkeyalias or hostname, as "[host]:port" when port != 22. */
void hostkey_lookup_name(const struct hostcfg *cfg, char *out, size_t outlen);
/* 1 if host (lower-cased) matches the comma list of patterns ('*', '?', '!' negation). */
int hostkey_match_list(const char *host, const char *patterns);
/* Check one key blob (SSH wire form) for name against the files; missing files are skipped. */
enum hk_result hostkey_check(char (*files)[HC_STR], int nfiles, const char *name,
                             const unsigned char *blob, size_t bloblen);
/* hostkey_check, with extra (NULL or known_hosts lines, such as a KnownHostsCommand's
 * output) read after the files, as ssh loads them into one set. */
enum hk_result hostkey_check_extra(char (*files)[HC_STR], int nfiles, const char *extra,
                                   const char *name, const unsigned char *blob, size_t bloblen);
/* The lines of the files that name host (plain, @revoked and @cert-authority), in order, as
 * one malloc'd text that hostkey_check_extra(NULL, 0, text, ...) judges as the files; NULL
 * when out of memory. */
char *hostkey_lines(char (*files)[HC_STR], int nfiles, const char *name);
/* Key types ("ssh-ed25519", "ssh-rsa", ...) the files hold for name, in file order, no
 * duplicates; returns how many were written to types. */
int hostkey_known_types(char (*files)[HC_STR], int nfiles, const char *name, char types[][64],
                        int maxtypes);
/* Append "name type base64" (name hashed as |1|salt|hmac when hashed) to file under flock,
 * creating it 0600. Returns 0, or -1 with a reason in err. */
int hostkey_append(const char *file, const char *name, const unsigned char *blob, size_t bloblen,
                   int hashed, char *err, size_t errlen);
/* The key type named inside a wire-form blob into out; -1 if malformed. */
int hostkey_blob_type(const unsigned char *blob, size_t bloblen, char *out, size_t outlen);

#endif
