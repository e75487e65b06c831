/* offer.c: the order in which ssh offers certificates, agent keys and identity files
 * (OpenSSH's pubkey_prepare), and the key a certificate certifies (made by ssh-keygen);
 * agentsign.c: the algorithm a signed userauth request names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentsign.h"
#include "keyfile.h"
#include "offer.h"
#include "proto.h"

#include "check.h"

static char dir[64];

static void run(const char *fmt)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, dir, dir, dir, dir, dir, dir);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
        fprintf(stderr, "test_offer: %s failed\n", cmd);
        exit(2);
    }
}

static struct keyid kid(int n)
{
    struct keyid k;
    memset(&k, n, sizeof k);
    return k;
}

/* The order as "A0 F1 B1 C0 ..." (source and index; "+aJ" when agent key J signs it). */
static const char *order(const struct offer_keys *k)
{
    static char out[256];
    struct offer_item it[32];
    int n = offer_order(k, it, 32);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s%c%d", i ? " " : "", "AFBC"[it[i].src], it[i].index);
        strcat(out, one);
        if (it[i].agent >= 0 && it[i].src != OFFER_AGENT) {
            snprintf(one, sizeof one, "+a%d", it[i].agent);
            strcat(out, one);
        }
    }
    return out;
}

/* The blob in path (a .pub-format file); its length. */
static size_t blob(const char *name, unsigned char *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    long n = keyfile_pub_file(path, out, cap);
    return n > 0 ? (size_t)n : 0;
}

int main(void)
{
    /* Files: F0 (key 1, a certificate 11 beside it), F1 (key unknown: a PEM key without its
     * .pub), F2 (key 2). The agent: 9 (another key), 2, 11. */
    struct keyid file[3] = {kid(1), kid(0), kid(2)}, beside[3] = {kid(11)}, agent[3];
    int file_have[3] = {1, 0, 1}, beside_have[3] = {1, 0, 0};
    struct keyid cert[2] = {kid(21), kid(22)};
    int cert_have[2] = {1, 0};
    struct offer_keys k = {.file = file,
                           .file_have = file_have,
                           .n_file = 3,
                           .beside = beside,
                           .beside_have = beside_have};
    CHECK(!strcmp(order(&k), "F0 B0 F1 F2"), "files: each key, its certificate after it (%s)",
          order(&k));
    agent[0] = kid(9), agent[1] = kid(2), agent[2] = kid(11);
    k.agent = agent;
    k.n_agent = 3;
    CHECK(!strcmp(order(&k), "F2+a1 B0+a2 A0 F0 F1"),
          "the agent's keys of files first, then its others, then the files left (%s)", order(&k));
    k.identitiesonly = 1;
    CHECK(!strcmp(order(&k), "F2+a1 B0+a2 F0 F1"), "IdentitiesOnly drops the agent's others (%s)",
          order(&k));
    k.identitiesonly = 0;
    k.cert = cert;
    k.cert_have = cert_have;
    k.n_cert = 2;
    CHECK(!strcmp(order(&k), "C0 F2+a1 A0 A2 F0 F1"),
          "CertificateFile first; none then loaded beside (%s)", order(&k));

    /* Certificates from ssh-keygen: the key each certifies, and the type test. */
    snprintf(dir, sizeof dir, "/tmp/test_offer.%d", (int)getpid());
    run("rm -rf %s && mkdir -p %s && ssh-keygen -q -t ed25519 -N '' -f %s/ca");
    run("cd %s && for t in ed25519 ecdsa rsa; do ssh-keygen -q -t $t -N '' -f k_$t && "
        "ssh-keygen -q -s ca -I x -n u k_$t.pub || exit 1; done");
    static const char *types[] = {"ed25519", "ecdsa", "rsa"};
    for (int i = 0; i < 3; i++) {
        unsigned char c[4096], p[4096], plain[4096];
        char name[160];
        snprintf(name, sizeof name, "k_%s-cert.pub", types[i]);
        size_t cn = blob(name, c, sizeof c);
        snprintf(name, sizeof name, "k_%s.pub", types[i]);
        size_t pn = blob(name, p, sizeof p);
        long n = offer_cert_plain(c, cn, plain, sizeof plain);
        CHECK(cn && pn && n == (long)pn && !memcmp(plain, p, pn), "%s: the certified key",
              types[i]);
        CHECK(offer_blob_is_cert(c, cn) && !offer_blob_is_cert(p, pn), "%s: a certificate",
              types[i]);
        CHECK(offer_cert_plain(p, pn, plain, sizeof plain) < 0, "%s: a plain key certifies none",
              types[i]);
        CHECK(offer_cert_plain(c, 80, plain, sizeof plain) < 0, "%s: a cut certificate", types[i]);
        snprintf(name, sizeof name, "%s/k_%s-cert.pub", dir, types[i]);
        CHECK(offer_cert_file(name, c, sizeof c) == (long)cn, "%s: the certificate file", types[i]);
        snprintf(name, sizeof name, "%s/k_%s.pub", dir, types[i]);
        CHECK(offer_cert_file(name, c, sizeof c) < 0, "%s: a key file holds no certificate",
              types[i]);
    }
    char beside_path[HC_STR + 16];
    offer_beside_path("/h/.ssh/id_ed25519", beside_path, sizeof beside_path);
    CHECK(!strcmp(beside_path, "/h/.ssh/id_ed25519-cert.pub"), "the file beside");

    /* A signed userauth request (RFC 4252 7) names its algorithm. */
    static const char *f[] = {"sid",
                              "\x32",
                              "user",
                              "ssh-connection",
                              "publickey",
                              "\x01",
                              "rsa-sha2-512-cert-v01@openssh.com",
                              "blob"};
    unsigned char data[256], *d = data;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        size_t l = strlen(f[i]);
        if (i == 1 || i == 5) {
            *d++ = (unsigned char)f[i][0];
            continue;
        }
        proto_set_be32(d, (uint32_t)l);
        memcpy(d + 4, f[i], l);
        d += 4 + l;
    }
    char alg[64];
    CHECK(agentsign_alg(data, (size_t)(d - data), alg, sizeof alg) == 0 &&
              !strcmp(alg, "rsa-sha2-512-cert-v01@openssh.com"),
          "the algorithm of a signed request");
    CHECK(agentsign_alg(data, 20, alg, sizeof alg) < 0, "a cut request names none");
    CHECK(agentsign_alg_sha1("ssh-rsa-cert-v01@openssh.com") && agentsign_alg_sha1("ssh-rsa") &&
              !agentsign_alg_sha1("rsa-sha2-256-cert-v01@openssh.com"),
          "SHA-1's algorithms");

    run("rm -rf %s");
    printf("test_offer: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
