/* A PKCS#11 token through OpenSSH's own programs: ssh-keygen -D for its public keys (so that
 * the server is asked about a key before the PIN, as ssh asks), and ssh-pkcs11-helper for the
 * login and the signatures. The helper (OpenSSH 9.2's ssh-pkcs11-helper.c) reads messages of
 * the agent protocol on its stdin and answers on its stdout: SSH_AGENTC_ADD_SMARTCARD_KEY
 * (string provider, string PIN) answers SSH2_AGENT_IDENTITIES_ANSWER (u32 n, then n times
 * string key blob, string label) or SSH_AGENT_FAILURE; SSH2_AGENTC_SIGN_REQUEST (string key
 * blob, string data, u32 flags, ignored) answers SSH2_AGENT_SIGN_RESPONSE with the raw
 * PKCS#11 signature: for RSA, data is the PKCS#1 DigestInfo and the answer the signature's
 * bytes; for ECDSA, data is the digest and the answer a DER ECDSA-Sig-Value. It is not
 * interactive: a token that wants a PIN lists no keys without one ("pin required"), so the
 * broker asks the PIN itself with the token's label, which the helper's debug output (-v)
 * names ("slot N: label <L> ... flags 0xF"). */
#include "pkcs11.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentsign.h"
#include "child.h"
#include "proto.h"
#include "words.h"

#ifndef MUXSHIM_PKCS11_HELPER
#define MUXSHIM_PKCS11_HELPER "/usr/lib/openssh/ssh-pkcs11-helper" /* Debian's libexecdir */
#endif

#define ADD_SMARTCARD_KEY 20
#define SIGN_REQUEST 13
#define SIGN_RESPONSE 14
#define IDENTITIES_ANSWER 12
#define ANSWER_MAX (256 * 1024) /* the longest answer taken (as ssh's client) */
#define LOG_MAX 8192            /* the helper's stderr kept */
#define CKF_LOGIN_REQUIRED 0x4UL
#define CKF_PROTECTED_AUTHENTICATION_PATH 0x100UL /* the PIN is entered on the reader */

struct p11 {
    char provider[1024];
    char *const *env;
    const char *cwd;
    struct p11_key keys[P11_MAX_KEYS];
    int n;
    pid_t pid; /* the helper, or -1 */
    int fd;    /* its socket */
    int errfd; /* its stderr (non-blocking), or -1 */
    char log[LOG_MAX];
    size_t loglen;
    int logged_in; /* the helper holds the token's keys */
};

/* name searched in the client's PATH (as execlp would), into out; 0 or -1. */
static int find_prog(char *const *env, const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        return 0;
    }
    const char *path = words_env(env, "PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, cap, "%.*s%s%s", (int)n, path, n ? "/" : "", name);
        if (access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

/* ssh's name of a key blob's type ("RSA", "ECDSA", "ED25519"), "" if unknown. */
static void type_name(const unsigned char *b, size_t len, char *out, size_t cap)
{
    size_t tl = len >= 4 ? proto_be32(b) : 0;
    const char *t = (const char *)b + 4;
    out[0] = '\0';
    if (tl == 0 || tl > len - 4)
        return;
    if (tl == 7 && !memcmp(t, "ssh-rsa", 7))
        snprintf(out, cap, "RSA");
    else if (tl > 11 && !memcmp(t, "ecdsa-sha2-", 11))
        snprintf(out, cap, "ECDSA");
    else if (tl == 11 && !memcmp(t, "ssh-ed25519", 11))
        snprintf(out, cap, "ED25519");
}

/* One line of ssh-keygen -D ("type base64 label") into k; 0 or -1. */
static int parse_key_line(char *line, struct p11_key *k)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return -1;
    char *b64 = sp + 1, *end = strchr(b64, ' ');
    if (end)
        *end = '\0';
    size_t bl = strlen(b64);
    if (bl == 0 || bl % 4 || bl / 4 * 3 > sizeof k->blob)
        return -1;
    int n = EVP_DecodeBlock(k->blob, (const unsigned char *)b64, (int)bl);
    if (n < 0)
        return -1;
    n -= (b64[bl - 1] == '=') + (b64[bl - 2] == '=');
    k->len = (size_t)n;
    snprintf(k->label, sizeof k->label, "%s", end ? end + 1 : "");
    type_name(k->blob, k->len, k->type, sizeof k->type);
    return k->type[0] ? 0 : -1;
}

/* All of fd (at most 256 KB) into a malloc'd NUL-terminated string, or NULL. */
static char *slurp(int fd)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (ssize_t r = 1; r > 0;) {
        if (len + 1024 + 1 > cap) {
            char *x = cap < 256 * 1024 ? realloc(out, cap = cap * 2 + 4096) : NULL;
            if (!x)
                break;
            out = x;
        }
        r = read(fd, out + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            r = 1;
        else if (r > 0)
            len += (size_t)r;
    }
    if (out)
        out[len] = '\0';
    return out;
}

/* Run argv with the client's environment in its directory: its stdout (NULL if it cannot
 * run or fails) and its stderr (*err, malloc'd, or NULL). Its stderr is read after its
 * stdout: ssh-keygen -D says a line or two there at most. */
static char *run_out(char *const *argv, char *const *env, const char *cwd, char **err)
{
    int p[2], e2[2];
    pid_t pid;
    int status = 0;
    *err = NULL;
    if (pipe2(p, O_CLOEXEC) < 0)
        return NULL;
    if (pipe2(e2, O_CLOEXEC) < 0) {
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    int e = spawn_child(argv, env, cwd, -1, p[1], e2[1], &pid);
    close(p[1]);
    close(e2[1]);
    char *out = e == 0 ? slurp(p[0]) : NULL;
    *err = e == 0 ? slurp(e2[0]) : NULL;
    close(p[0]);
    close(e2[0]);
    if (e == 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    if (e != 0 || !out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Say what ssh's PKCS#11 code said while ssh-keygen loaded the provider (as ssh says it when
 * it loads it: "provider X is not a PKCS11 library"), without ssh-keygen's own last word. */
static void say_load_errors(char *err, const struct conn_prompter *pr, int loglevel)
{
    if (!err || !pr || !pr->say || loglevel < 2)
        return;
    char said[2048];
    size_t n = 0;
    for (char *l = err, *nl; *l && n < sizeof said - 2; l = nl ? nl + 1 : l + strlen(l)) {
        if ((nl = strchr(l, '\n')))
            *nl = '\0';
        if (*l && strcmp(l, "cannot read public key from pkcs11") != 0)
            n += (size_t)snprintf(said + n, sizeof said - n, "%s\r\n", l);
        if (!nl)
            break;
    }
    if (n && n < sizeof said)
        pr->say(pr->ctx, said);
}

struct p11 *p11_open(const char *provider, const struct conn_prompter *pr, int loglevel, int *later)
{
    static char *const none[] = {NULL};
    char *const *env = pr && pr->env ? pr->env : none;
    char keygen[1024], *err = NULL;
    if (!provider || !*provider || find_prog(env, "ssh-keygen", keygen, sizeof keygen) < 0)
        return NULL;
    /* ssh-keygen would ask a PIN itself (askpass) for a token that hides its keys: never. */
    size_t ne = 0;
    while (env[ne])
        ne++;
    char **kenv = calloc(ne + 2, sizeof *kenv);
    if (!kenv)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(env[i], "SSH_ASKPASS_REQUIRE=", 20) != 0)
            kenv[j++] = env[i];
    kenv[j] = "SSH_ASKPASS_REQUIRE=never";
    char *argv[] = {keygen, "-D", (char *)provider, NULL};
    char *out = run_out(argv, kenv, pr ? pr->cwd : NULL, &err);
    free(kenv);
    struct p11 *t = out ? calloc(1, sizeof *t) : NULL;
    /* A token that shows its keys only once logged in: ssh asks its PIN as it loads it. */
    *later = !out && err && strstr(err, "login failed\n");
    if (!out && !*later)
        say_load_errors(err, pr, loglevel);
    free(err);
    if (!t) {
        free(out);
        return NULL;
    }
    snprintf(t->provider, sizeof t->provider, "%s", provider);
    t->env = env;
    t->cwd = pr ? pr->cwd : NULL;
    t->pid = -1;
    t->fd = t->errfd = -1;
    for (char *l = out, *nl; l && *l && t->n < P11_MAX_KEYS; l = nl) {
        if ((nl = strchr(l, '\n')))
            *nl++ = '\0';
        if (parse_key_line(l, &t->keys[t->n]) == 0)
            t->n++;
    }
    free(out);
    if (t->n == 0) {
        free(t);
        return NULL;
    }
    return t;
}

int p11_count(const struct p11 *t)
{
    return t ? t->n : 0;
}

const struct p11_key *p11_key(const struct p11 *t, int i)
{
    return &t->keys[i];
}

/* Start the helper as ssh would: SSH_PKCS11_HELPER, else OpenSSH's path; with -v, so that
 * its stderr names the token (kept in t->log, never shown). */
static int helper_start(struct p11 *t)
{
    char path[1024];
    const char *h = words_env(t->env, "SSH_PKCS11_HELPER");
    if (find_prog(t->env, h && *h ? h : MUXSHIM_PKCS11_HELPER, path, sizeof path) < 0)
        return -1;
    int sp[2], ep[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return -1;
    if (pipe2(ep, O_CLOEXEC) < 0) {
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    char *argv[] = {path, "-v", NULL};
    int e = spawn_child(argv, t->env, t->cwd, sp[1], sp[1], ep[1], &t->pid);
    close(sp[1]);
    close(ep[1]);
    if (e != 0) {
        close(sp[0]);
        close(ep[0]);
        t->pid = -1;
        return -1;
    }
    fcntl(ep[0], F_SETFL, O_NONBLOCK);
    t->fd = sp[0];
    t->errfd = ep[0];
    return 0;
}

/* Take what the helper wrote on stderr so far into t->log (the newest LOG_MAX bytes). */
static void drain_log(struct p11 *t)
{
    char buf[2048];
    ssize_t r;
    while (t->errfd >= 0 && (r = read(t->errfd, buf, sizeof buf)) > 0) {
        if ((size_t)r > LOG_MAX - 1 - t->loglen) {
            size_t drop = (size_t)r - (LOG_MAX - 1 - t->loglen);
            drop = drop > t->loglen ? t->loglen : drop;
            memmove(t->log, t->log + drop, t->loglen - drop);
            t->loglen -= drop;
        }
        size_t take = (size_t)r < LOG_MAX - 1 - t->loglen ? (size_t)r : LOG_MAX - 1 - t->loglen;
        memcpy(t->log + t->loglen, buf, take);
        t->loglen += take;
        t->log[t->loglen] = '\0';
    }
}

/* Send one message (q, n bytes: type and body, the length is put first) and read the
 * answer: malloc'd, its type first, *alen bytes; NULL if the helper is gone. */
static unsigned char *helper_ask(struct p11 *t, const unsigned char *q, size_t n, size_t *alen)
{
    unsigned char hdr[4], *ans = NULL;
    proto_set_be32(hdr, (uint32_t)n);
    int nfds = 0;
    if (proto_write_all(t->fd, hdr, 4) < 0 || proto_write_all(t->fd, q, n) < 0 ||
        proto_recv_exact(t->fd, hdr, 4, NULL, 0, &nfds) != 4)
        return NULL;
    *alen = proto_be32(hdr);
    if (*alen == 0 || *alen > ANSWER_MAX || !(ans = malloc(*alen)))
        return NULL;
    if (proto_recv_exact(t->fd, ans, *alen, NULL, 0, &nfds) != (long)*alen) {
        free(ans);
        return NULL;
    }
    drain_log(t); /* what it said while it worked came before its answer */
    return ans;
}

/* ADD_SMARTCARD_KEY with pin: 1 the helper holds keys, 0 it said no, -1 it is gone. The
 * message is wiped once sent. */
static int helper_add(struct p11 *t, const char *pin)
{
    size_t pl = strlen(t->provider), nl = strlen(pin), n = 1 + 4 + pl + 4 + nl, alen = 0;
    unsigned char *q = malloc(n);
    if (!q)
        return -1;
    q[0] = ADD_SMARTCARD_KEY;
    proto_set_be32(q + 1, (uint32_t)pl);
    memcpy(q + 5, t->provider, pl);
    proto_set_be32(q + 5 + pl, (uint32_t)nl);
    memcpy(q + 9 + pl, pin, nl);
    unsigned char *ans = helper_ask(t, q, n, &alen);
    explicit_bzero(q, n);
    free(q);
    int rc = !ans ? -1 : ans[0] == IDENTITIES_ANSWER && alen >= 5 && proto_be32(ans + 1) > 0;
    free(ans);
    return rc;
}

/* The label and flags of the first slot the helper's log names that wants a login; 0, or
 * -1 if none does. */
static int slot_label(const struct p11 *t, char *label, size_t cap, unsigned long *flags)
{
    static const char lab[] = ": label <", man[] = "> manufacturerID <", fl[] = " flags 0x";
    for (const char *l = t->log; l && *l;) {
        const char *eol = strchr(l, '\n'), *a = strstr(l, lab), *b, *f;
        size_t ll = eol ? (size_t)(eol - l) : strlen(l);
        if (a && a < l + ll && strstr(l, " slot ") < a && (b = strstr(a, man)) && b < l + ll &&
            (f = strstr(b, fl)) && f < l + ll &&
            ((*flags = strtoul(f + sizeof fl - 1, NULL, 16)) & CKF_LOGIN_REQUIRED)) {
            a += sizeof lab - 1;
            snprintf(label, cap, "%.*s", (int)(b - a), a);
            return 0;
        }
        l = eol ? eol + 1 : NULL;
    }
    return -1;
}

/* ssh's error for the C_Login code the helper's log names last (pkcs11_login_slot). */
static void login_words(const struct p11 *t, char *out, size_t cap)
{
    static const char key[] = "C_Login failed: ";
    const char *p = NULL;
    for (const char *s = t->log; (s = strstr(s, key)); s += sizeof key - 1)
        p = s + sizeof key - 1;
    if (!p) {
        out[0] = '\0';
        return;
    }
    unsigned long rv = strtoul(p, NULL, 10);
    if (rv == 0xa0)
        snprintf(out, cap, "PKCS#11 login failed: PIN incorrect\r\n");
    else if (rv == 0xa2)
        snprintf(out, cap, "PKCS#11 login failed: PIN length out of range\r\n");
    else if (rv == 0xa4)
        snprintf(out, cap, "PKCS#11 login failed: PIN locked\r\n");
    else
        snprintf(out, cap, "PKCS#11 login failed: error %lu\r\n", rv);
}

int p11_login(struct p11 *t, int i, const struct conn_prompter *pr, int loglevel, int *asked)
{
    if (t->logged_in)
        return 0;
    if (t->pid < 0 && helper_start(t) < 0)
        return -1;
    /* A token that needs no login lists its keys without a PIN. */
    int rc = helper_add(t, "");
    if (rc != 0) {
        t->logged_in = rc > 0;
        return rc > 0 ? 0 : -1;
    }
    char label[256], q[512], pin[1024], words[128] = "";
    unsigned long flags = 0;
    if (slot_label(t, label, sizeof label, &flags) < 0)
        return -1;
    if (flags & CKF_PROTECTED_AUTHENTICATION_PATH)
        return -2; /* ssh lets the reader ask; the helper cannot */
    /* ssh-pkcs11.c's pkcs11_login_slot: one question; no answer or a wrong one fails this
     * key's signature. */
    snprintf(q, sizeof q, "Enter PIN for '%s': ", label);
    int got = pr && pr->ask(pr->ctx, q, 0, pin, sizeof pin) == 0;
    *asked = 1;
    if (got) {
        rc = helper_add(t, pin);
        explicit_bzero(pin, sizeof pin);
        if (rc > 0) {
            t->logged_in = 1;
            return 0;
        }
        login_words(t, words, sizeof words);
    }
    if (pr && pr->say && loglevel >= 2) {
        char said[1024];
        snprintf(said, sizeof said,
                 "%slogin failed\r\npkcs11_get_key failed\r\n"
                 "sign_and_send_pubkey: signing failed for %s \"%s\": error in libcrypto\r\n",
                 words, t->keys[i].type, t->keys[i].label);
        pr->say(pr->ctx, said);
    }
    return -1;
}

/* An mpint of the big-endian number b (n bytes) at out; its length (out NULL: just that). */
static size_t put_mpint(unsigned char *out, const unsigned char *b, size_t n)
{
    while (n && !b[0]) {
        b++;
        n--;
    }
    size_t pad = n && (b[0] & 0x80);
    if (out) {
        proto_set_be32(out, (uint32_t)(n + pad));
        out[4] = 0;
        memcpy(out + 4 + pad, b, n);
    }
    return 4 + pad + n;
}

/* A DER ECDSA-Sig-Value as ssh's signature blob (mpint r, mpint s), malloc'd; NULL if bad. */
static unsigned char *ecdsa_blob(const unsigned char *der, size_t dl, size_t *len)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    unsigned char r[80], s[80], *out = NULL;
    const BIGNUM *br, *bs;
    if (!es)
        return NULL;
    ECDSA_SIG_get0(es, &br, &bs);
    int rl = BN_num_bytes(br), sl = BN_num_bytes(bs);
    if (rl <= (int)sizeof r && sl <= (int)sizeof s && BN_bn2bin(br, r) == rl &&
        BN_bn2bin(bs, s) == sl) {
        *len = put_mpint(NULL, r, (size_t)rl) + put_mpint(NULL, s, (size_t)sl);
        if ((out = malloc(*len))) {
            size_t o = put_mpint(out, r, (size_t)rl);
            put_mpint(out + o, s, (size_t)sl);
        }
    }
    ECDSA_SIG_free(es);
    return out;
}

/* The data the helper signs for algorithm alg: the digest (ECDSA) or the PKCS#1 DigestInfo
 * (RSA), into out; its length, or 0 (an algorithm not served). */
static size_t to_sign(const char *alg, const unsigned char *data, size_t dlen, unsigned char *out)
{
    /* DER DigestInfo prefixes of SHA-256 and SHA-512 (RFC 8017 9.2, note 1). */
    static const unsigned char di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};
    static const unsigned char di512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x03, 0x05, 0x00, 0x04, 0x40};
    const EVP_MD *md = NULL;
    const unsigned char *pre = NULL;
    size_t pl = 0;
    if (!strcmp(alg, "rsa-sha2-256")) {
        md = EVP_sha256();
        pre = di256;
        pl = sizeof di256;
    } else if (!strcmp(alg, "rsa-sha2-512")) {
        md = EVP_sha512();
        pre = di512;
        pl = sizeof di512;
    } else if (!strcmp(alg, "ecdsa-sha2-nistp256")) {
        md = EVP_sha256();
    } else if (!strcmp(alg, "ecdsa-sha2-nistp384")) {
        md = EVP_sha384();
    } else if (!strcmp(alg, "ecdsa-sha2-nistp521")) {
        md = EVP_sha512();
    } else {
        return 0;
    }
    unsigned int hl = 0;
    if (pl)
        memcpy(out, pre, pl);
    if (!EVP_Digest(data, dlen, out + pl, &hl, md, NULL))
        return 0;
    return pl + hl;
}

LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(p11_sign_cb)
{
    (void)session;
    struct p11_sign *ts = *abstract;
    struct p11 *t = ts->t;
    const struct p11_key *k = &t->keys[ts->key];
    char alg[128];
    unsigned char tbs[19 + EVP_MAX_MD_SIZE];
    if (agentsign_alg(data, data_len, alg, sizeof alg) < 0 || !t->logged_in)
        return -1;
    if (agentsign_alg_sha1(alg)) {
        ts->sha1 = 1;
        return -1;
    }
    size_t tl = to_sign(alg, data, data_len, tbs), n = 1 + 4 + k->len + 4 + tl + 4, alen = 0;
    unsigned char *q = tl ? malloc(n) : NULL, *ans = NULL;
    int rc = -1;
    if (!q)
        return -1;
    q[0] = SIGN_REQUEST;
    proto_set_be32(q + 1, (uint32_t)k->len);
    memcpy(q + 5, k->blob, k->len);
    proto_set_be32(q + 5 + k->len, (uint32_t)tl);
    memcpy(q + 9 + k->len, tbs, tl);
    proto_set_be32(q + 9 + k->len + tl, 0);
    ans = helper_ask(t, q, n, &alen);
    free(q);
    if (!ans || alen < 5 || ans[0] != SIGN_RESPONSE || proto_be32(ans + 1) > alen - 5)
        goto out;
    size_t sl = proto_be32(ans + 1);
    if (!strcmp(k->type, "ECDSA")) {
        *sig = ecdsa_blob(ans + 5, sl, sig_len);
    } else if ((*sig = malloc(sl ? sl : 1))) {
        memcpy(*sig, ans + 5, sl);
        *sig_len = sl;
    }
    rc = *sig ? 0 : -1;
out:
    free(ans);
    return rc;
}

void p11_close(struct p11 *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd); /* the helper reads its end and exits */
    if (t->errfd >= 0)
        close(t->errfd);
    if (t->pid > 0)
        while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    explicit_bzero(t, sizeof *t);
    free(t);
}
