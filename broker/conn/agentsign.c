/* One signature from the agent (draft-miller-ssh-agent: SSH_AGENTC_SIGN_REQUEST), for a login
 * libssh2 makes with a public key blob of our choosing. */
#include "agentsign.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"

#define AGENTC_SIGN_REQUEST 13
#define AGENT_SIGN_RESPONSE 14
#define AGENT_RSA_SHA2_256 2
#define AGENT_RSA_SHA2_512 4
#define AGENT_MAX (256 * 1024) /* the longest answer taken */

/* The next string of b (len bytes, from *off): its start and length, or NULL. */
static const unsigned char *next_str(const unsigned char *b, size_t len, size_t *off, size_t *sl)
{
    if (len - *off < 4 || proto_be32(b + *off) > len - *off - 4)
        return NULL;
    *sl = proto_be32(b + *off);
    const unsigned char *s = b + *off + 4;
    *off += 4 + *sl;
    return s;
}

int agentsign_alg(const unsigned char *data, size_t len, char *out, size_t cap)
{
    size_t off = 0, sl = 0;
    const unsigned char *s = next_str(data, len, &off, &sl); /* session id */
    if (!s || off >= len || data[off++] != 50)
        return -1;
    for (int i = 0; i < 3 && s; i++) /* user, service, "publickey" */
        s = next_str(data, len, &off, &sl);
    if (!s || off >= len)
        return -1;
    off++; /* TRUE: with a signature */
    s = next_str(data, len, &off, &sl);
    if (!s || sl >= cap)
        return -1;
    memcpy(out, s, sl);
    out[sl] = '\0';
    return 0;
}

int agentsign_alg_sha1(const char *alg)
{
    return !strcmp(alg, "ssh-rsa") || !strcmp(alg, "ssh-rsa-cert-v01@openssh.com");
}

/* Ask the agent at path to sign data with key; the answer's body (a malloc'd buffer of *alen
 * bytes, its type first), or NULL. */
static unsigned char *ask_agent(const struct agentsign *a, const unsigned char *data, size_t dlen,
                                uint32_t flags, size_t *alen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!a->path || strlen(a->path) >= sizeof sa.sun_path)
        return NULL;
    memcpy(sa.sun_path, a->path, strlen(a->path) + 1);
    size_t qlen = 4 + 1 + 4 + a->keylen + 4 + dlen + 4;
    unsigned char *q = malloc(qlen), *ans = NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!q || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        goto out;
    unsigned char *p = q;
    proto_set_be32(p, (uint32_t)(qlen - 4));
    p[4] = AGENTC_SIGN_REQUEST;
    p += 5;
    proto_set_be32(p, (uint32_t)a->keylen);
    memcpy(p + 4, a->key, a->keylen);
    p += 4 + a->keylen;
    proto_set_be32(p, (uint32_t)dlen);
    memcpy(p + 4, data, dlen);
    p += 4 + dlen;
    proto_set_be32(p, flags);
    unsigned char hdr[4];
    int nfds = 0;
    if (proto_write_all(fd, q, qlen) < 0 || proto_recv_exact(fd, hdr, 4, NULL, 0, &nfds) != 4)
        goto out;
    *alen = proto_be32(hdr);
    if (*alen == 0 || *alen > AGENT_MAX || !(ans = malloc(*alen)))
        goto out;
    if (proto_recv_exact(fd, ans, *alen, NULL, 0, &nfds) != (long)*alen) {
        free(ans);
        ans = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    free(q);
    return ans;
}

LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(agentsign_cb)
{
    (void)session;
    struct agentsign *a = *abstract;
    char alg[128], plain[128];
    if (agentsign_alg(data, data_len, alg, sizeof alg) < 0)
        return -1;
    if (agentsign_alg_sha1(alg)) {
        a->sha1 = 1;
        return -1;
    }
    /* The signature's own algorithm is the offered one without "-cert-v01@openssh.com". */
    snprintf(plain, sizeof plain, "%s", alg);
    char *cert = strstr(plain, "-cert-v01@openssh.com");
    if (cert)
        *cert = '\0';
    uint32_t flags = !strcmp(plain, "rsa-sha2-512")   ? AGENT_RSA_SHA2_512
                     : !strcmp(plain, "rsa-sha2-256") ? AGENT_RSA_SHA2_256
                                                      : 0;
    size_t alen = 0, off = 1, sl = 0, nl = 0, rl = 0;
    unsigned char *ans = ask_agent(a, data, data_len, flags, &alen);
    int rc = -1;
    if (!ans || ans[0] != AGENT_SIGN_RESPONSE)
        goto out;
    const unsigned char *s = next_str(ans, alen, &off, &sl), *name, *raw;
    size_t so = 0;
    if (!s || !(name = next_str(s, sl, &so, &nl)) || !(raw = next_str(s, sl, &so, &rl)))
        goto out;
    if (nl != strlen(plain) || memcmp(name, plain, nl) != 0 || !(*sig = malloc(rl ? rl : 1)))
        goto out; /* signed for another algorithm than the one offered */
    memcpy(*sig, raw, rl);
    *sig_len = rl;
    rc = 0;
out:
    free(ans);
    return rc;
}
