/* The publickey method as ssh runs it: user certificates, the agent's keys and identity files
 * in ssh's order (offer.h); a key from a file (its passphrase asked through the client), a
 * key from the agent, and a certificate signed by the agent or by its identity file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentsign.h"
#include "auth_int.h"
#include "engine.h"
#include "hostkey.h"
#include "keyfile.h"
#include "offer.h"
#include "pkcs11.h"

#define PK_AGENT_MAX OFFER_AGENT_MAX /* agent keys offered at most */

/* Note a key offered and not taken (the session that would offer it first would not log in
 * with it either). */
static void note_refused(struct conn_facts *f, const unsigned char *blob, size_t len)
{
    if (f && f->n_refused < CF_MAX_KEYS)
        conn_keyid(blob, len, &f->refused[f->n_refused++]);
}

/* A key logged in: by its blob (a certificate's, when one did), through the agent or not. */
static void note_login(struct conn_facts *f, const unsigned char *blob, size_t len, int agent)
{
    if (!f)
        return;
    f->login = LOGIN_KEY;
    f->login_by_agent = agent;
    conn_keyid(blob, len, &f->login_key);
}

/* libssh2 before 1.11 signs RSA user keys only with ssh-rsa (SHA-1), which OpenSSH 8.8 and
 * later refuse by default; 1.11 signs them with rsa-sha2-512/256 by itself. */
static int rsa_sha1_only(void)
{
    return engine_old();
}

/* 1 if the key blob is an RSA key ("ssh-rsa" as its type). */
static int blob_is_rsa(const unsigned char *b, size_t len)
{
    char type[64];
    return hostkey_blob_type(b, len, type, sizeof type) == 0 && strcmp(type, "ssh-rsa") == 0;
}

/* What the method holds while it offers: the agent and its keys, and the public halves of
 * the identity files (0), the certificates beside them (1) and CertificateFile's (2). */
struct pk {
    LIBSSH2_AGENT *agent; /* connected and listed, or NULL */
    const char *agent_path;
    struct libssh2_agent_publickey *aid[PK_AGENT_MAX];
    struct keyid akey[PK_AGENT_MAX];
    int n_agent;
    unsigned char *blob[3][HC_MAX_FILES]; /* malloc'd, NULL if unknown */
    size_t len[3][HC_MAX_FILES];
    struct keyid id[3][HC_MAX_FILES];
    int have[3][HC_MAX_FILES];
};

/* Keep a copy of a blob of n bytes (n <= 0: none) as pk's kind k, entry i. */
static void pk_keep(struct pk *p, int k, int i, const unsigned char *b, long n)
{
    if (n <= 0 || !(p->blob[k][i] = malloc((size_t)n)))
        return;
    memcpy(p->blob[k][i], b, (size_t)n);
    p->len[k][i] = (size_t)n;
    conn_keyid(b, (size_t)n, &p->id[k][i]);
    p->have[k][i] = 1;
}

/* The agent to ask: IdentityAgent, else the client's SSH_AUTH_SOCK; NULL for none. */
static const char *agent_of(const struct hostcfg *cfg, const char *agent_sock)
{
    if (strcmp(cfg->identityagent, "none") == 0)
        return NULL;
    if (cfg->identityagent[0] && strcmp(cfg->identityagent, "SSH_AUTH_SOCK") != 0)
        return cfg->identityagent;
    return agent_sock && *agent_sock ? agent_sock : NULL;
}

static void pk_agent(LIBSSH2_SESSION *s, const char *path, struct pk *p, struct conn_facts *f)
{
    if (!path || !(p->agent = libssh2_agent_init(s)))
        return;
    libssh2_agent_set_identity_path(p->agent, path);
    if (libssh2_agent_connect(p->agent) != 0 || libssh2_agent_list_identities(p->agent) != 0) {
        libssh2_agent_free(p->agent);
        p->agent = NULL;
        return;
    }
    p->agent_path = path;
    if (f) /* what the agent holds, in its order: sessions of the same agent offer it */
        snprintf(f->agent, sizeof f->agent, "%.255s", path);
    struct libssh2_agent_publickey *id = NULL, *prev = NULL;
    while (p->n_agent < PK_AGENT_MAX && libssh2_agent_get_identity(p->agent, &id, prev) == 0) {
        prev = id;
        conn_keyid(id->blob, id->blob_len, &p->akey[p->n_agent]);
        if (f && f->n_agent_keys < CF_MAX_KEYS)
            f->agent_keys[f->n_agent_keys++] = p->akey[p->n_agent];
        p->aid[p->n_agent++] = id;
    }
}

static void pk_files(const struct hostcfg *cfg, struct pk *p)
{
    unsigned char *b = malloc(KEY_MAX);
    char path[HC_STR + 16];
    if (!b)
        return;
    for (int i = 0; i < cfg->n_identityfile && i < HC_MAX_FILES; i++) {
        pk_keep(p, 0, i, b, keyfile_identity_public(cfg->identityfile[i], b, KEY_MAX));
        offer_beside_path(cfg->identityfile[i], path, sizeof path);
        if (cfg->n_certificatefile == 0)
            pk_keep(p, 1, i, b, offer_cert_file(path, b, KEY_MAX));
    }
    for (int i = 0; i < cfg->n_certificatefile && i < HC_MAX_FILES; i++)
        pk_keep(p, 2, i, b, offer_cert_file(cfg->certificatefile[i], b, KEY_MAX));
    free(b);
}

static void pk_free(struct pk *p)
{
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < HC_MAX_FILES; i++)
            free(p->blob[k][i]);
    if (p->agent) {
        libssh2_agent_disconnect(p->agent);
        libssh2_agent_free(p->agent);
    }
}

/* Sign callback that signs nothing: it is reached only once the server has said it would
 * accept the key (SSH_MSG_USERAUTH_PK_OK), which it records with the algorithm libssh2
 * offered. */
struct probe {
    int accepted;
    char alg[128];
};

static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(accepted_cb)
{
    (void)session;
    (void)sig;
    (void)sig_len;
    struct probe *pr = *abstract;
    pr->accepted = 1;
    if (agentsign_alg(data, data_len, pr->alg, sizeof pr->alg) < 0)
        pr->alg[0] = '\0';
    return -1;
}

/* Would the server take this key blob? As ssh, ask before a passphrase or a signature. */
static int blob_accepted(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const unsigned char *b,
                         size_t n, struct probe *pr)
{
    memset(pr, 0, sizeof *pr);
    void *abs = pr;
    libssh2_userauth_publickey(s, cfg->user, b, n, accepted_cb, &abs);
    return pr->accepted;
}

/* Would the server take this key? 1 yes, 0 no; 1 too when the public key is unknown (a PEM
 * key without its .pub file: ssh asks first too). */
static int server_accepts(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *keyfile,
                          const char *text)
{
    unsigned char blob[KEY_MAX];
    long n = keyfile_public(keyfile, text, blob, sizeof blob);
    struct probe pr;
    return n <= 0 || blob_accepted(s, cfg, blob, (size_t)n, &pr);
}

/* An encrypted key: ask its passphrase (ssh's prompt, NumberOfPasswordPrompts times, with
 * the file's name as ssh shows it, from shown on); pub, the .pub-format text to log in with
 * (a certificate) or NULL for the key's own; *refused when the server said it would not take
 * it (unless probed: it said it would). */
static int try_encrypted(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *keyfile,
                         int shown, const char *text, size_t len, const char *pub, int probed,
                         struct auth_ui *ui, int *refused)
{
    *refused = 0;
    if (!ui->pr || cfg->batchmode)
        return -1;
    if (!probed && !server_accepts(s, cfg, keyfile, text)) {
        *refused = 1;
        return -1;
    }
    for (int t = 0; t < cfg->numberofpasswordprompts; t++) {
        char q[HC_STR + 64], a[1024];
        snprintf(q, sizeof q, "Enter passphrase for key '%s': ", keyfile + shown);
        if (ui->pr->ask(ui->pr->ctx, q, 0, a, sizeof a) != 0)
            return -1;
        ui->asked = 1;
        if (!a[0]) { /* an empty answer skips the key, as in ssh */
            explicit_bzero(a, sizeof a);
            return -1;
        }
        int rc = libssh2_userauth_publickey_frommemory(s, cfg->user, strlen(cfg->user), pub,
                                                       pub ? strlen(pub) : 0, text, len, a);
        explicit_bzero(a, sizeof a);
        if (rc == 0)
            return 0;
        /* The server said it takes this key, so a failure is most likely a wrong
         * passphrase (libssh2's code for it varies by key format): ask again, unless the
         * connection itself broke. */
        if (auth_broke(s, ui, 1))
            return -1;
    }
    return -1;
}

/* 1 if the identity file holds an RSA key (its .pub, its openssh-key-v1 public half, or a
 * PEM RSA header tell). */
static int key_is_rsa(const char *keyfile, const char *text)
{
    unsigned char blob[KEY_MAX];
    long n = keyfile_public(keyfile, text, blob, sizeof blob);
    if (n > 0)
        return blob_is_rsa(blob, (size_t)n);
    return strstr(text, "BEGIN RSA PRIVATE KEY") != NULL;
}

/* An identity file offered: the key that logged in (ok), or one not taken (refused; a key
 * that was only skipped, such as an encrypted one nobody could unlock, is neither). */
static void record_file(struct conn_facts *f, const char *keyfile, const char *text, int ok,
                        int refused)
{
    unsigned char blob[KEY_MAX];
    long n = f && (ok || refused) ? keyfile_public(keyfile, text, blob, sizeof blob) : -1;
    if (!f || (!ok && n <= 0))
        return;
    if (!ok) {
        note_refused(f, blob, (size_t)n);
        return;
    }
    f->login_by_agent = 0;
    if (n > 0) {
        f->login = LOGIN_KEY;
        conn_keyid(blob, (size_t)n, &f->login_key);
    } else {
        f->login = LOGIN_FILE;
        snprintf(f->login_file, sizeof f->login_file, "%s", keyfile);
    }
}

/* Identity file i with its own key. */
static int try_file(LIBSSH2_SESSION *s, const struct hostcfg *cfg, int i, struct auth_ui *ui)
{
    size_t len = 0;
    char *text = keyfile_read(cfg->identityfile[i], &len);
    if (!text)
        return -1;
    int rc = -1, refused = 1;
    if (keyfile_encrypted(text, len))
        rc = try_encrypted(s, cfg, cfg->identityfile[i], cfg->identityfile_shown[i], text, len,
                           NULL, 0, ui, &refused);
    else
        rc = libssh2_userauth_publickey_frommemory(s, cfg->user, strlen(cfg->user), NULL, 0, text,
                                                   len, NULL);
    if (rc != 0 && auth_broke(s, ui, 1)) {
        explicit_bzero(text, len);
        free(text);
        return -1;
    }
    if (rc != 0 && rsa_sha1_only() && key_is_rsa(cfg->identityfile[i], text))
        ui->rsa_refused = 1;
    if (rc != 0 &&
        (!refused || libssh2_session_last_errno(s) != LIBSSH2_ERROR_AUTHENTICATION_FAILED))
        ui->skipped = 1;
    record_file(ui->facts, cfg->identityfile[i], text, rc == 0, rc != 0 && refused);
    explicit_bzero(text, len);
    free(text);
    return rc == 0 ? 0 : -1;
}

/* Agent key j, a plain key: libssh2's own agent login. */
static int try_agent_key(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct pk *p, int j,
                         struct auth_ui *ui)
{
    struct libssh2_agent_publickey *id = p->aid[j];
    if (libssh2_agent_userauth(p->agent, cfg->user, id) == 0) {
        note_login(ui->facts, id->blob, id->blob_len, 1);
        return 0;
    }
    if (auth_broke(s, ui, 0))
        return -1;
    note_refused(ui->facts, id->blob, id->blob_len);
    if (blob_is_rsa(id->blob, id->blob_len) && rsa_sha1_only())
        ui->rsa_refused = 1;
    return -1;
}

/* A certificate signed by the agent's key (the certificate itself, or the key it
 * certifies). */
static int cert_by_agent(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct pk *p,
                         const unsigned char *cert, size_t n, const unsigned char *key,
                         size_t keylen, struct auth_ui *ui)
{
    struct agentsign as = {.path = p->agent_path, .key = key, .keylen = keylen};
    void *abs = &as;
    int rc = libssh2_userauth_publickey(s, cfg->user, cert, n, agentsign_cb, &abs);
    if (rc == 0) {
        note_login(ui->facts, cert, n, 1);
        return 0;
    }
    if (auth_broke(s, ui, 0))
        return -1;
    note_refused(ui->facts, cert, n);
    if (libssh2_session_last_errno(s) == LIBSSH2_ERROR_AUTHENTICATION_FAILED)
        ui->cert_refused = 1;
    else
        ui->skipped = 1;
    return -1;
}

/* A certificate (certpath) signed by identity file i's private key: asked first, as ssh does,
 * then libssh2 signs with the key, the certificate's text as its public half. */
static int cert_by_file(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const unsigned char *cert,
                        size_t n, const char *certpath, int i, struct auth_ui *ui)
{
    struct probe pr;
    if (!blob_accepted(s, cfg, cert, n, &pr)) {
        if (!auth_broke(s, ui, 0)) {
            note_refused(ui->facts, cert, n);
            ui->cert_refused = 1;
        }
        return -1;
    }
    if (agentsign_alg_sha1(pr.alg)) { /* never an RSA certificate with SHA-1 */
        ui->skipped = 1;
        return -1;
    }
    size_t len = 0, plen = 0;
    char *text = keyfile_read(cfg->identityfile[i], &len), *pub = keyfile_read(certpath, &plen);
    int rc = -1, refused = 0;
    if (text && pub && keyfile_encrypted(text, len))
        rc = try_encrypted(s, cfg, cfg->identityfile[i], cfg->identityfile_shown[i], text, len, pub,
                           1, ui, &refused);
    else if (text && pub)
        rc = libssh2_userauth_publickey_frommemory(s, cfg->user, strlen(cfg->user), pub, plen, text,
                                                   len, NULL);
    if (text)
        explicit_bzero(text, len);
    free(text);
    free(pub);
    if (rc == 0) {
        note_login(ui->facts, cert, n, 0);
        return 0;
    }
    if (!auth_broke(s, ui, 1))
        ui->skipped = 1; /* accepted, and still not logged in: not the server's no */
    return -1;
}

/* A certificate from a file (beside identity file i, or CertificateFile i): signed as ssh
 * signs it, by the agent when it holds the key it certifies, else by the identity file that
 * holds that key, else (beside) by the identity file it is beside. */
static int try_cert_file(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct pk *p, int kind,
                         int i, struct auth_ui *ui)
{
    const unsigned char *cert = p->blob[kind][i];
    size_t n = p->len[kind][i];
    unsigned char plain[CF_BLOB_MAX];
    char path[HC_STR + 16];
    long pl = offer_cert_plain(cert, n, plain, sizeof plain);
    for (int j = 0; pl > 0 && j < p->n_agent; j++)
        if (p->aid[j]->blob_len == (size_t)pl && !memcmp(p->aid[j]->blob, plain, (size_t)pl))
            return cert_by_agent(s, cfg, p, cert, n, p->aid[j]->blob, p->aid[j]->blob_len, ui);
    if (kind == 1)
        offer_beside_path(cfg->identityfile[i], path, sizeof path);
    else
        snprintf(path, sizeof path, "%s", cfg->certificatefile[i]);
    for (int f = 0; pl > 0 && f < cfg->n_identityfile && f < HC_MAX_FILES; f++)
        if (p->have[0][f] && p->len[0][f] == (size_t)pl &&
            !memcmp(p->blob[0][f], plain, (size_t)pl))
            return cert_by_file(s, cfg, cert, n, path, f, ui);
    if (kind == 1 && !p->have[0][i])
        return cert_by_file(s, cfg, cert, n, path, i, ui);
    ui->skipped = 1; /* no key to sign it with: ssh cannot either, but say nothing */
    return -1;
}

/* 1 if the key blob is one of the identity files' public keys. */
static int in_files(const struct pk *p, const unsigned char *b, size_t n)
{
    for (int f = 0; f < HC_MAX_FILES; f++)
        if (p->have[0][f] && p->len[0][f] == n && !memcmp(p->blob[0][f], b, n))
            return 1;
    return 0;
}

/* The PKCS11Provider's keys (pkcs11.h), where ssh 9.2 offers them: after the agent's keys,
 * before the identity files (under IdentitiesOnly only those an identity file holds too).
 * Each key is offered first; the PIN is asked only for one the server would take, once
 * for the connection; the helper stops when the login is over (libssh2 never signs with a
 * user key again, rekeying included). */
static int try_token(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct pk *p,
                     struct auth_ui *ui)
{
    if (!cfg->pkcs11provider[0] || !ui->pr)
        return -1; /* BatchMode goes to ssh (sshconfig.c) */
    int later = 0, rc = -1;
    struct p11 *t = p11_open(cfg->pkcs11provider, ui->pr, cfg->loglevel, &later);
    ui->skipped |= later; /* its keys need the PIN first: the real ssh asks it then */
    for (int i = 0; i < p11_count(t) && rc != 0 && !ui->broken; i++) {
        const struct p11_key *k = p11_key(t, i);
        struct probe pr;
        if (cfg->identitiesonly && !in_files(p, k->blob, k->len))
            continue;
        if (!blob_accepted(s, cfg, k->blob, k->len, &pr)) {
            if (!auth_broke(s, ui, 0))
                note_refused(ui->facts, k->blob, k->len);
            continue;
        }
        if (agentsign_alg_sha1(pr.alg)) { /* libssh2 1.10: RSA with SHA-1 only */
            ui->rsa_refused = 1;
            continue;
        }
        int lr = p11_login(t, i, ui->pr, cfg->loglevel, &ui->asked);
        ui->skipped |= lr == -2;
        if (lr < 0)
            continue;
        struct p11_sign ts = {.t = t, .key = i};
        void *abs = &ts;
        if (libssh2_userauth_publickey(s, cfg->user, k->blob, k->len, p11_sign_cb, &abs) == 0) {
            note_login(ui->facts, k->blob, k->len, 0);
            if (ui->facts)
                snprintf(ui->facts->pkcs11, sizeof ui->facts->pkcs11, "%s", cfg->pkcs11provider);
            rc = 0;
        } else if (!auth_broke(s, ui, 0)) {
            ui->skipped = 1; /* accepted, and still not logged in: not the server's no */
        }
    }
    p11_close(t);
    return rc;
}

/* One offer of ssh's order. */
static int try_item(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct pk *p,
                    const struct offer_item *it, struct auth_ui *ui)
{
    int j = it->agent, cert;
    if (j >= 0)
        cert = offer_blob_is_cert(p->aid[j]->blob, p->aid[j]->blob_len);
    else
        cert = it->src == OFFER_BESIDE || it->src == OFFER_CERT;
    if (cert && engine_old()) {
        ui->cert_old = 1;
        return -1;
    }
    if (j >= 0 && !cert)
        return try_agent_key(s, cfg, p, j, ui);
    if (j >= 0)
        return cert_by_agent(s, cfg, p, p->aid[j]->blob, p->aid[j]->blob_len, p->aid[j]->blob,
                             p->aid[j]->blob_len, ui);
    if (it->src == OFFER_FILE)
        return try_file(s, cfg, it->index, ui);
    return try_cert_file(s, cfg, p, it->src == OFFER_BESIDE ? 1 : 2, it->index, ui);
}

int pubkey_try(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
               struct auth_ui *ui)
{
    struct pk *p = calloc(1, sizeof *p);
    struct offer_item *items = calloc(PK_AGENT_MAX + 3 * HC_MAX_FILES, sizeof *items);
    int rc = -1;
    if (!p || !items)
        goto out;
    pk_agent(s, agent_of(cfg, agent_sock), p, ui->facts);
    pk_files(cfg, p);
    int nf = cfg->n_identityfile < HC_MAX_FILES ? cfg->n_identityfile : HC_MAX_FILES;
    struct offer_keys k = {
        .agent = p->akey,
        .n_agent = p->n_agent,
        .file = p->id[0],
        .file_have = p->have[0],
        .n_file = nf,
        .beside = p->id[1],
        .beside_have = p->have[1],
        .cert = p->id[2],
        .cert_have = p->have[2],
        .n_cert = cfg->n_certificatefile < HC_MAX_FILES ? cfg->n_certificatefile : HC_MAX_FILES,
        .identitiesonly = cfg->identitiesonly,
    };
    int n = offer_order(&k, items, PK_AGENT_MAX + 3 * HC_MAX_FILES), tp = 0;
    /* The token's keys go before the identity files that no agent signs. */
    while (tp < n &&
           (items[tp].agent >= 0 || items[tp].src == OFFER_AGENT || items[tp].src == OFFER_CERT))
        tp++;
    for (int i = 0; i <= n && rc != 0 && !ui->broken && !ui->cert_old; i++) {
        if (i == tp)
            rc = try_token(s, cfg, p, ui);
        if (i < n && rc != 0 && !ui->broken)
            rc = try_item(s, cfg, p, &items[i], ui);
    }
out:
    if (p)
        pk_free(p);
    free(p);
    free(items);
    return rc;
}
