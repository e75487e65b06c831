/* The sharing decision: which ready connections of its authority a session may use.
 *
 * The authority (token.c) is uid, user, host, port, route and bind address. Within it, a
 * connection is usable when it is what the session itself could have made: a host key the
 * session trusts, a login key the session would offer, algorithms from its lists, an
 * address family it allows, and the key exchange the session's own list would get from
 * that server (a session whose ssh would get a post-quantum exchange never rides a
 * classical one). Everything else a session sets only steers how to log in or
 * how to behave locally (BatchMode, ConnectTimeout, the *Authentication switches,
 * PreferredAuthentications, NumberOfPasswordPrompts, LogLevel, SendEnv, SetEnv,
 * RequestTTY, EscapeChar) and never splits a connection.
 *
 * Compression is not compared either: a connection keeps what the session that made it
 * negotiated (`-C` or Compression yes on that first session turns it on for the
 * connection's life; a later `-C` session shares an uncompressed connection, and a later
 * session without `-C` shares a compressed one). It changes nothing a session sees. */
#include "accept.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "keyfile.h"
#include "engine.h"
#include "hostkey.h"
#include "khcmd.h"
#include "offer.h"
#include "words.h"

/* The id of an identity file's public key (see keyfile_identity_public); 0, or -1 if none. */
static int identity_id(const char *keyfile, struct keyid *out)
{
    unsigned char blob[CF_BLOB_MAX];
    long n = keyfile_identity_public(keyfile, blob, sizeof blob);
    if (n <= 0)
        return -1;
    conn_keyid(blob, (size_t)n, out);
    return 0;
}

/* The id of the certificate in path, and of the key it certifies (zero when unknown); 1, or
 * 0 if it holds none. */
static int cert_id(const char *path, struct keyid *out, struct keyid *plain)
{
    unsigned char blob[CF_BLOB_MAX], key[CF_BLOB_MAX];
    long n = offer_cert_file(path, blob, sizeof blob);
    if (n <= 0)
        return 0;
    conn_keyid(blob, (size_t)n, out);
    long pl = offer_cert_plain(blob, (size_t)n, key, sizeof key);
    if (pl > 0)
        conn_keyid(key, (size_t)pl, plain);
    return 1;
}

/* Whether path can be opened for appending, or created in its folder. */
static int can_append(const char *path)
{
    if (access(path, W_OK) == 0)
        return 1;
    if (errno != ENOENT)
        return 0;
    char dir[HC_STR];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    return access(dir, W_OK | X_OK) == 0;
}

struct accept_files *accept_files_read(const struct hostcfg *cfg)
{
    struct accept_files *a = calloc(1, sizeof *a);
    char(*files)[HC_STR] = calloc(2 * HC_MAX_FILES, HC_STR);
    char name[HC_STR + 16];
    int n = 0;
    if (!a || !files) {
        free(a);
        free(files);
        return NULL;
    }
    for (int i = 0; i < cfg->n_userknownhostsfile && i < HC_MAX_FILES; i++)
        memcpy(files[n++], cfg->userknownhostsfile[i], HC_STR);
    for (int i = 0; i < cfg->n_globalknownhostsfile && i < HC_MAX_FILES; i++)
        memcpy(files[n++], cfg->globalknownhostsfile[i], HC_STR);
    hostkey_lookup_name(cfg, name, sizeof name);
    a->known = hostkey_lines(files, n, name);
    free(files);
    if (!a->known) {
        free(a);
        return NULL;
    }
    a->kh_writable = cfg->n_userknownhostsfile > 0 && can_append(cfg->userknownhostsfile[0]);
    for (int i = 0; i < cfg->n_identityfile && i < HC_MAX_FILES; i++) {
        struct stat st;
        a->have[i] = identity_id(cfg->identityfile[i], &a->ids[i]) == 0;
        a->exists[i] = stat(cfg->identityfile[i], &st) == 0;
        offer_beside_path(cfg->identityfile[i], name, sizeof name);
        a->beside_have[i] =
            cfg->n_certificatefile == 0 && cert_id(name, &a->beside[i], &a->beside_plain[i]);
    }
    for (int i = 0; i < cfg->n_certificatefile && i < HC_MAX_FILES; i++)
        a->cert_have[i] = cert_id(cfg->certificatefile[i], &a->certs[i], &a->cert_plain[i]);
    return a;
}

void accept_files_free(struct accept_files *a)
{
    if (a)
        free(a->known);
    free(a);
}

/* 1 if word is an entry of the comma list; an empty list or word (nothing configured, or
 * nothing recorded) does not constrain. */
static int listed(const char *list, const char *word)
{
    return !list[0] || !word[0] || words_in_list(list, word, strlen(word));
}

/* (a) The host key: known to the session's files, or new and let in by its policy. */
static int hostkey_ok(const struct conn_facts *f, const struct hostcfg *cfg,
                      const struct accept_files *af, char *const *env, int *learn, char *why,
                      size_t whylen)
{
    char name[HC_STR + 16];
    int ok = 0;
    hostkey_lookup_name(cfg, name, sizeof name);
    enum hk_result r =
        f->hostkey_len ? hostkey_check_extra(NULL, 0, af->known, name, f->hostkey, f->hostkey_len)
                       : HK_CHANGED;
    unsigned char id[32];
    if (r != HK_MATCH && f->by_khc && cfg->knownhostscommand[0] &&
        khcmd_id(cfg, env, name, f->hostkey, f->hostkey_len, id) == 0 &&
        !memcmp(id, f->khc, sizeof id))
        r = HK_MATCH; /* the same command's lines let it in (it is not run again here) */
    if (r != HK_MATCH && f->by_dns && cfg->verifyhostkeydns == 1) {
        *learn = 2; /* a validated SSHFP record for this host name let it in */
        return 1;
    }
    switch (r) {
    case HK_MATCH:
        ok = 1;
        break;
    case HK_UNKNOWN:
        /* As ssh: no and accept-new take a new key (and add it); ask would ask, yes
         * refuses: either way not this connection. */
        ok = cfg->stricthostkeychecking == HC_STRICT_NO ||
             cfg->stricthostkeychecking == HC_STRICT_ACCEPT_NEW;
        *learn = !ok ? 0 : cfg->n_userknownhostsfile > 0 ? 1 : 2;
        if (!ok)
            snprintf(why, whylen, "its host key is not known as %.200s", name);
        break;
    default:
        snprintf(why, whylen, "its host key is not the one known as %.200s", name);
        break;
    }
    return ok;
}

/* The agent the session would ask: IdentityAgent, else its SSH_AUTH_SOCK; NULL if none. */
static const char *session_agent(const struct hostcfg *cfg, char *const *env)
{
    if (!strcmp(cfg->identityagent, "none"))
        return NULL;
    if (cfg->identityagent[0] && strcmp(cfg->identityagent, "SSH_AUTH_SOCK") != 0)
        return cfg->identityagent;
    const char *a = words_env(env, "SSH_AUTH_SOCK");
    return a && *a ? a : NULL;
}

/* 1 when an agent listens on path (ssh's check_agent_present connects to it). On the
 * loop, so the connect does not wait: a listener whose backlog is full (EAGAIN) is there. */
static int agent_present(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return 0;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN;
    close(fd);
    return ok;
}

void accept_fwd_agent(const struct hostcfg *cfg, char *const *env, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *present = session_agent(cfg, env), *path = cfg->forwardagent;
    /* As ssh: no forwarding without an agent it can reach (IdentityAgent, else
     * SSH_AUTH_SOCK). A ForwardAgent that names an environment variable was made its value
     * ("" when unset) with the config (sshconfig_env_paths). */
    if (!cfg->forwardagent[0] || !present || !agent_present(present))
        return;
    if (!strcmp(path, "yes"))
        path = present;
    snprintf(out, outlen, "%s", path);
}

/* (e) Agent forwarding: sshd gives the agent of a connection's first forwarding session to
 * every later session on it (one listener per connection, SSH_AUTH_SOCK set for all), so a
 * connection that forwards an agent serves only sessions that forward the same one, and a
 * session that forwards one never takes a connection that does not. */
static int fwd_ok(const struct conn_facts *f, const struct hostcfg *cfg, char *const *env,
                  char *why, size_t whylen)
{
    char want[sizeof f->fwd_agent];
    accept_fwd_agent(cfg, env, want, sizeof want);
    if (!strcmp(want, f->fwd_agent))
        return 1;
    snprintf(why, whylen, "%s",
             !want[0]           ? "it forwards an agent and the session does not"
             : !f->fwd_agent[0] ? "the session forwards an agent and it does not"
                                : "it forwards another agent");
    return 0;
}

/* One entry of a session's offer order: a key, and its file if it is one. */
struct offer {
    struct keyid id;
    int known;        /* id is set (else only the file's path is known) */
    const char *path; /* the identity file, NULL for an agent's key */
    int early;        /* a certificate file or an agent's key: offered before a token's */
};

static int same_id(const struct keyid *a, const struct keyid *b)
{
    return memcmp(a->h, b->h, sizeof a->h) == 0;
}

static int id_in(const struct keyid *id, const struct keyid *v, int n)
{
    for (int i = 0; i < n; i++)
        if (same_id(id, &v[i]))
            return 1;
    return 0;
}

/* Whether the session can sign with the key plain that a certificate file certifies, as
 * the login does (pubkey.c's try_cert_file): the same agent holds it, or an identity file
 * does; beside >= 0: the certificate beside that identity file, whose key is unknown here
 * (it is tried). */
static int cert_signable(const struct conn_facts *f, const struct accept_files *af, int same_agent,
                         int n_file, const struct keyid *plain, int beside)
{
    if (same_agent && id_in(plain, f->agent_keys, f->n_agent_keys))
        return 1;
    for (int j = 0; j < n_file; j++)
        if (af->have[j] && same_id(&af->ids[j], plain))
            return 1;
    return beside >= 0 && !af->have[beside];
}

/* The keys the session would offer, in ssh's order (offer.h): with the agent's keys as the
 * connection saw them when it is the same agent, and without the certificate files it could
 * not sign with (ssh skips them); returns how many. */
static int session_offers(const struct conn_facts *f, const struct hostcfg *cfg,
                          const struct accept_files *af, const char *agent, struct offer *o,
                          int max)
{
    int same_agent = agent && f->agent[0] && !strcmp(agent, f->agent);
    struct offer_keys k = {
        .agent = same_agent ? f->agent_keys : NULL,
        .n_agent = same_agent ? f->n_agent_keys : 0,
        .file = af->ids,
        .file_have = af->have,
        .n_file = cfg->n_identityfile < HC_MAX_FILES ? cfg->n_identityfile : HC_MAX_FILES,
        .beside = af->beside,
        .beside_have = af->beside_have,
        .cert = af->certs,
        .cert_have = af->cert_have,
        .n_cert = cfg->n_certificatefile < HC_MAX_FILES ? cfg->n_certificatefile : HC_MAX_FILES,
        .identitiesonly = cfg->identitiesonly,
    };
    struct offer_item items[CF_MAX_KEYS + 3 * HC_MAX_FILES];
    int ni = offer_order(&k, items, CF_MAX_KEYS + 3 * HC_MAX_FILES), n = 0;
    for (int i = 0; i < ni && n < max; i++) {
        int x = items[i].index;
        switch (items[i].src) {
        case OFFER_AGENT:
            o[n++] = (struct offer){.id = f->agent_keys[x], .known = 1, .early = 1};
            break;
        case OFFER_CERT:
            if (items[i].agent >= 0 ||
                cert_signable(f, af, same_agent, k.n_file, &af->cert_plain[x], -1))
                o[n++] = (struct offer){.id = af->certs[x], .known = 1, .early = 1};
            break;
        case OFFER_BESIDE:
            if (items[i].agent >= 0 ||
                cert_signable(f, af, same_agent, k.n_file, &af->beside_plain[x], x))
                o[n++] =
                    (struct offer){.id = af->beside[x], .known = 1, .early = items[i].agent >= 0};
            break;
        case OFFER_FILE:
            if (af->have[x])
                o[n++] = (struct offer){.id = af->ids[x],
                                        .known = 1,
                                        .path = cfg->identityfile[x],
                                        .early = items[i].agent >= 0};
            else if (af->exists[x])
                o[n++] = (struct offer){.path = cfg->identityfile[x]};
            break;
        }
    }
    return n;
}

/* (b) The login: no key, or the key this session would log in with: the first it would
 * offer that the server did not refuse to the connection. */
static int login_ok(const struct conn_facts *f, const struct hostcfg *cfg,
                    const struct accept_files *af, char *const *env, char *why, size_t whylen)
{
    if (f->login == LOGIN_NONE)
        return 1;
    const char *agent = session_agent(cfg, env);
    if (f->login_by_agent && agent && (!f->agent[0] || strcmp(agent, f->agent))) {
        snprintf(why, whylen, "an agent key logged it in, and the session has another agent");
        return 0;
    }
    /* A token's key (PKCS11Provider) is offered by sessions of the same provider only, after
     * their certificate files and agent keys and before their identity files; which keys a
     * token holds is known only to a login, so a session of a provider shares a connection
     * its token or an earlier key logged in. */
    if (f->pkcs11[0] && strcmp(f->pkcs11, cfg->pkcs11provider) != 0) {
        snprintf(why, whylen,
                 "a PKCS#11 token's key logged it in, and the session has "
                 "another PKCS11Provider");
        return 0;
    }
    struct offer o[CF_MAX_KEYS + 3 * HC_MAX_FILES];
    int n = session_offers(f, cfg, af, agent, o, CF_MAX_KEYS + 3 * HC_MAX_FILES);
    int i;
    for (i = 0; i < n; i++) {
        if (!o[i].early && f->pkcs11[0])
            break; /* the token's keys come here, and the same token's key logged it in */
        if (!o[i].early && cfg->pkcs11provider[0])
            break; /* the session's token keys come here: not known */
        if (f->login == LOGIN_FILE && o[i].path && !strcmp(o[i].path, f->login_file))
            return 1;
        if (!o[i].known)
            break; /* unknown key: it might log in as someone else */
        if (f->login == LOGIN_KEY && same_id(&o[i].id, &f->login_key))
            return 1;
        if (!id_in(&o[i].id, f->refused, f->n_refused))
            break;
    }
    if (f->pkcs11[0] && (i == n || !o[i].early))
        return 1;
    snprintf(why, whylen, "it logged in with a key this session would not log in with");
    return 0;
}

/* The key exchange the list mine would negotiate with a server that offers offer (RFC 4253
 * 7.1: the client's first that the server also has), among those libssh2 can negotiate (a
 * LIBSSH2=system build has no hybrids: it gets the classical one); into out, "" if none. */
static void kex_would_get(const char *mine, const char *offer, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = mine; *p;) {
        size_t n = strcspn(p, ",");
        if (n && n < cap && words_in_list(offer, p, n)) {
            memcpy(out, p, n);
            out[n] = '\0';
            if (engine_kex_supported(out))
                return;
            out[0] = '\0';
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* (c) The negotiated algorithms: each in the session's list; the key exchange the one the
 * session's own list would get from the server (known when the server's offer is, engine.h),
 * so that a session whose ssh would get a post-quantum exchange never rides a classical
 * connection, and sessions to a server with no post-quantum exchange share one. */
static int algs_ok(const struct conn_facts *f, const struct hostcfg *cfg, char *why, size_t whylen)
{
    if (f->server_kex[0] && cfg->kexalgorithms[0] && f->kex[0]) {
        char want[128];
        kex_would_get(cfg->kexalgorithms, f->server_kex, want, sizeof want);
        if (strcmp(want, f->kex)) {
            snprintf(why, whylen, "it negotiated %s where the session's KexAlgorithms would get %s",
                     f->kex, want[0] ? want : "none");
            return 0;
        }
    }
    const struct {
        const char *list, *got, *what;
    } a[] = {
        {cfg->kexalgorithms, f->kex, "KexAlgorithms"},
        {cfg->hostkeyalgorithms, f->hostkey_alg, "HostKeyAlgorithms"},
        {cfg->ciphers, f->cipher_cs, "Ciphers"},
        {cfg->ciphers, f->cipher_sc, "Ciphers"},
        {cfg->macs, f->mac_cs, "MACs"},
        {cfg->macs, f->mac_sc, "MACs"},
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        /* An AEAD cipher (AES-GCM, chacha20-poly1305) brings its own MAC, which libssh2
         * names INTEGRATED-…: as for ssh, the session's MACs do not apply then. */
        if (a[i].list == cfg->macs && !strncmp(a[i].got, "INTEGRATED", 10))
            continue;
        if (!listed(a[i].list, a[i].got)) {
            snprintf(why, whylen, "its %s is not in the session's %s", a[i].got, a[i].what);
            return 0;
        }
    }
    return 1;
}

int conn_accepts(const struct conn_facts *f, const struct hostcfg *cfg,
                 const struct accept_files *af, char *const *env, int *learn, char *why,
                 size_t whylen)
{
    *learn = 0;
    why[0] = '\0';
    if (!af) {
        snprintf(why, whylen, "the session's known_hosts and identity files were not read");
        return 0;
    }
    /* (d) first: it costs nothing. A connection through a tunnel has no address family. */
    if (cfg->addressfamily && f->family && cfg->addressfamily != f->family) {
        snprintf(why, whylen, "its address family is not the session's AddressFamily");
        return 0;
    }
    if (!fwd_ok(f, cfg, env, why, whylen) || !algs_ok(f, cfg, why, whylen) ||
        !login_ok(f, cfg, af, env, why, whylen))
        return 0;
    return hostkey_ok(f, cfg, af, env, learn, why, whylen);
}
