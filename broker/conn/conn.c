/* One authenticated SSH connection: TCP (tcp.c) or a ProxyCommand, handshake, host key
 * (verify.c), auth. */
#include "conn.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "clock.h"
#include "deadline.h"
#include "engine.h"
#include "fatal.h"
#include "hostkey.h"
#include "proxy.h"
#include "tcp.h"
#include "verify.h"
#include "words.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    libssh2_init(0);
}

/* Append the entries of want that libssh2 supports for method type to out, in order;
 * only those (when only_known) or only those not (when !only_known) whose key type is in
 * known (hostkey ordering; known NULL = no filter). */
static void filter_algs(const char *want, const char **sup, int nsup, char known[][64], int nknown,
                        int only_known, char *out, size_t outlen)
{
    for (const char *p = want; *p;) {
        size_t n = strcspn(p, ",");
        char a[128];
        snprintf(a, sizeof a, "%.*s", (int)(n < sizeof a ? n : sizeof a - 1), p);
        p += n;
        if (*p == ',')
            p++;
        int ok = 0;
        for (int i = 0; i < nsup && !ok; i++)
            ok = strcmp(sup[i], a) == 0;
        /* libssh2 cannot verify host certificates: never ask for one. */
        if (!ok || words_in_list(out, a, strlen(a)) || strstr(a, "-cert-v01@openssh.com"))
            continue;
        if (known) {
            const char *kt = strncmp(a, "rsa-sha2-", 9) == 0 ? "ssh-rsa" : a;
            int isk = 0;
            for (int i = 0; i < nknown && !isk; i++)
                isk = strcmp(known[i], kt) == 0;
            if (isk != only_known)
                continue;
        }
        size_t l = strlen(out);
        snprintf(out + l, outlen - l, "%s%s", l ? "," : "", a);
    }
}

/* Set one method preference from the config list; -1 if none of it is supported. */
static int set_pref(LIBSSH2_SESSION *s, int type, const char *want, char known[][64], int nknown,
                    char *err, size_t errlen)
{
    if (!want[0] && !known)
        return 0;
    const char **sup = NULL;
    int nsup = libssh2_session_supported_algs(s, type, &sup);
    if (nsup <= 0)
        return 0;
    char out[4096] = "", all[4096] = "";
    if (!want[0]) { /* no list configured: libssh2's own, still known types first */
        for (int i = 0; i < nsup; i++) {
            size_t l = strlen(all);
            snprintf(all + l, sizeof all - l, "%s%s", l ? "," : "", sup[i]);
        }
        want = all;
    }
    if (known) {
        filter_algs(want, sup, nsup, known, nknown, 1, out, sizeof out);
        if (nknown > 0 && !out[0]) {
            libssh2_free(s, sup);
            snprintf(err, errlen, "libssh2 cannot use the host key type known for this host (%s)",
                     known[0]);
            return -1;
        }
        filter_algs(want, sup, nsup, known, nknown, 0, out, sizeof out);
    } else {
        filter_algs(want, sup, nsup, NULL, 0, 0, out, sizeof out);
    }
    libssh2_free(s, sup);
    if (!out[0] || libssh2_session_method_pref(s, type, out) != 0) {
        snprintf(err, errlen, "no algorithm supported by libssh2 in \"%.200s\"", want);
        return -1;
    }
    return 0;
}

/* Known-hosts files of cfg, user files first, in one array (malloc'd). */
static char (*all_files(const struct hostcfg *cfg, int *n))[HC_STR]
{
    char(*f)[HC_STR] = calloc(2 * HC_MAX_FILES, HC_STR);
    *n = 0;
    if (!f)
        return NULL;
    for (int i = 0; i < cfg->n_userknownhostsfile && i < HC_MAX_FILES; i++)
        memcpy(f[(*n)++], cfg->userknownhostsfile[i], HC_STR);
    for (int i = 0; i < cfg->n_globalknownhostsfile && i < HC_MAX_FILES; i++)
        memcpy(f[(*n)++], cfg->globalknownhostsfile[i], HC_STR);
    return f;
}

void conn_keyid(const unsigned char *blob, size_t len, struct keyid *out)
{
    unsigned int n = 0;
    EVP_Digest(blob, len, out->h, &n, EVP_sha256(), NULL);
}

/* The negotiated methods, the host key and the peer's address family into f. */
static void record_facts(LIBSSH2_SESSION *s, int fd, struct conn_facts *f)
{
    static const struct {
        int type;
        size_t off;
    } m[] = {
        {LIBSSH2_METHOD_KEX, offsetof(struct conn_facts, kex)},
        {LIBSSH2_METHOD_HOSTKEY, offsetof(struct conn_facts, hostkey_alg)},
        {LIBSSH2_METHOD_CRYPT_CS, offsetof(struct conn_facts, cipher_cs)},
        {LIBSSH2_METHOD_CRYPT_SC, offsetof(struct conn_facts, cipher_sc)},
        {LIBSSH2_METHOD_MAC_CS, offsetof(struct conn_facts, mac_cs)},
        {LIBSSH2_METHOD_MAC_SC, offsetof(struct conn_facts, mac_sc)},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        const char *v = libssh2_session_methods(s, m[i].type);
        snprintf((char *)f + m[i].off, sizeof f->kex, "%s", v ? v : "");
    }
    if (engine_server_kex(s, f->server_kex, sizeof f->server_kex) < 0)
        f->server_kex[0] = '\0';
    size_t len = 0;
    int ktype = 0;
    const char *blob = libssh2_session_hostkey(s, &len, &ktype);
    f->hostkey_len = blob && len <= sizeof f->hostkey ? len : 0;
    if (f->hostkey_len)
        memcpy(f->hostkey, blob, len);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    f->family = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        f->family = ss.ss_family;
}

/* Whether libssh2's handshake failed (ec) because the peer on fd went away: a read found
 * the end or a reset, and the stream is at its end now. libssh2 reports an end met inside the
 * exchange as a failed exchange (or -1); an algorithm list with nothing in common is no end.
 * A reset the read saw first (errno ECONNRESET) or seen now sets *reset. */
static int peer_gone(int fd, int ec, int *reset)
{
    if (ec != LIBSSH2_ERROR_SOCKET_DISCONNECT && ec != LIBSSH2_ERROR_SOCKET_RECV &&
        ec != LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE && ec != LIBSSH2_ERROR_SOCKET_NONE)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == ECONNRESET)
        *reset = 1;
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

/* ssh's words when the peer on fd went away during the key exchange: before its banner
 * kex_exchange_identification says so first (an error() before ssh 9.5, verbose() from then
 * on), then sshpkt_fatal's "Connection closed by ID" or, for a reset, "Connection reset by
 * ID", at INFO; a proxied peer has no address, hence UNKNOWN port 65535. */
static void closed_words(const struct hostcfg *cfg, int fd, int before_banner, int reset, char *out,
                         size_t outlen)
{
    char id[NI_MAXHOST + 32];
    fatal_remote_id(fd, id, sizeof id);
    int said = before_banner && cfg->loglevel >= (cfg->ssh_9_5 ? 4 : 2);
    const char *first = !said ? ""
                        : reset
                            ? "kex_exchange_identification: read: Connection reset by peer\r\n"
                            : "kex_exchange_identification: Connection closed by remote host\r\n";
    if (cfg->loglevel >= 3)
        snprintf(out, outlen, "%sConnection %s by %.300s", first, reset ? "reset" : "closed", id);
    else
        snprintf(out, outlen, "%s", first);
}

enum conn_status conn_establish(const struct hostcfg *cfg, int sock, const char *agent_sock,
                                const char *krb5cc, const struct conn_prompter *prompter,
                                struct conn_result *out)
{
    enum conn_status st = CONN_FALLBACK;
    LIBSSH2_SESSION *s = NULL;
    char(*files)[HC_STR] = NULL;
    int nfiles = 0;
    char name[HC_STR + 16], known[HK_MAX_TYPES][64];

    out->session = NULL;
    out->sock = -1;
    out->sticky = 0;
    out->gssapi = 0;
    out->err[0] = '\0';
    memset(&out->facts, 0, sizeof out->facts);
    pthread_once(&init_once, lib_init);

    out->proxy = NULL;
    struct proxy *px = NULL;
    struct deadline *dl = NULL;
    int fd = sock, timed_out = 0, cut = 0;
    long long t0 = clock_ms(CLOCK_MONOTONIC); /* ConnectTimeout covers the connect and the banner */
    if (fd < 0 && cfg->proxycommand[0]) {
        fd = proxy_start(cfg, prompter ? prompter->env : NULL, prompter ? prompter->cwd : NULL,
                         prompter && prompter->errfd > 2 ? prompter->errfd : -1, &px, out->err,
                         sizeof out->err);
        if (fd < 0)
            return CONN_FALLBACK; /* the real ssh says why in its own words */
    } else if (fd < 0) {
        fd = tcp_connect(cfg, out->err, sizeof out->err);
    }
    if (fd < 0)
        return CONN_FATAL;
    fatal_peer_note(fd);
    files = all_files(cfg, &nfiles);
    s = libssh2_session_init();
    if (!files || !s) {
        snprintf(out->err, sizeof out->err, "out of memory");
        goto fail;
    }
    libssh2_session_set_blocking(s, 1);
    fatal_watch(s);
    if (cfg->compression)
        libssh2_session_flag(s, LIBSSH2_FLAG_COMPRESS, 1);
    hostkey_lookup_name(cfg, name, sizeof name);
    int nknown = hostkey_known_types(files, nfiles, name, known, HK_MAX_TYPES);
    if (set_pref(s, LIBSSH2_METHOD_KEX, cfg->kexalgorithms, NULL, 0, out->err, sizeof out->err) ||
        set_pref(s, LIBSSH2_METHOD_CRYPT_CS, cfg->ciphers, NULL, 0, out->err, sizeof out->err) ||
        set_pref(s, LIBSSH2_METHOD_CRYPT_SC, cfg->ciphers, NULL, 0, out->err, sizeof out->err) ||
        set_pref(s, LIBSSH2_METHOD_MAC_CS, cfg->macs, NULL, 0, out->err, sizeof out->err) ||
        set_pref(s, LIBSSH2_METHOD_MAC_SC, cfg->macs, NULL, 0, out->err, sizeof out->err) ||
        set_pref(s, LIBSSH2_METHOD_HOSTKEY, cfg->hostkeyalgorithms, known, nknown, out->err,
                 sizeof out->err))
        goto fail;
    if (cfg->connecttimeout > 0 &&
        !deadline_wait_banner(fd, cfg->connecttimeout * 1000L -
                                      (long)(clock_ms(CLOCK_MONOTONIC) - t0))) {
        timed_out = 1;
        deadline_words(fd, 0, cfg->loglevel, out->err, sizeof out->err);
        st = CONN_FATAL;
        goto fail;
    }
    /* From here a server that goes silent fails the job at the window's end: libssh2 waits
     * without a timeout of its own (it would count the user's time in a prompt). */
    dl = deadline_start(fd, deadline_window_ms(cfg));
    prompter = deadline_prompter(dl, prompter);
    if (libssh2_session_handshake(s, fd) != 0) {
        int sys = errno; /* what the failed read saw, if a read failed */
        char *msg = NULL;
        int ec = libssh2_session_last_error(s, &msg, NULL, 0);
        snprintf(out->err, sizeof out->err, "handshake failed: %s (%d)", msg ? msg : "unknown", ec);
        int reset = sys == ECONNRESET;
        if (!deadline_fired(dl) &&
            (peer_gone(fd, ec, &reset) || (px && !libssh2_session_banner_get(s)))) {
            /* The peer went away (a proxy command ended or closed its output, a server's
             * connection closed or reset): ssh fails with 255, so does the session. */
            if (!fatal_disconnect_words(fd, cfg->loglevel, out->err, sizeof out->err))
                closed_words(cfg, fd, !libssh2_session_banner_get(s), reset, out->err,
                             sizeof out->err);
            st = CONN_FATAL;
        } else if (!deadline_fired(dl) &&
                   fatal_words(s, fatal_code(s, ec), FATAL_CORRUPT, fd, 0, cfg->hostname,
                               cfg->loglevel, out->err, sizeof out->err)) {
            st = CONN_FATAL; /* a corrupted stream: ssh would fail the same way */
        }
        goto fail;
    }
    st = verify_hostkey(s, fd, cfg, files, nfiles, name, prompter, &out->facts, out->err,
                        sizeof out->err);
    if (st != CONN_OK)
        goto fail;
    char words[1024]; /* what ssh prints after its key exchange, before the login */
    if (prompter && prompter->say &&
        engine_kex_words(libssh2_session_methods(s, LIBSSH2_METHOD_KEX),
                         libssh2_session_methods(s, LIBSSH2_METHOD_HOSTKEY), cfg->loglevel,
                         cfg->warnweakcrypto, words, sizeof words))
        out->facts.kex_said = prompter->say(prompter->ctx, words) == 0;
    int arc =
        auth_run(s, cfg, agent_sock, krb5cc, prompter, &out->facts, out->err, sizeof out->err);
    st = arc == -2 ? CONN_FATAL : CONN_FALLBACK;
    out->sticky = arc == -3 || arc == -4;
    out->gssapi = arc == -4;
    cut = deadline_stop(dl); /* (cut just as the login ended: no use either) */
    dl = NULL;
    if (arc == -5 && !cut &&
        fatal_words(s, libssh2_session_last_errno(s), FATAL_CORRUPT | FATAL_CLOSED, fd, 0,
                    cfg->hostname, cfg->loglevel, out->err, sizeof out->err)) {
        st = CONN_FATAL; /* the stream broke during the login, not the login itself */
        out->sticky = out->gssapi = 0;
    }
    if (arc < 0 || cut)
        goto fail;
    record_facts(s, fd, &out->facts);
    free(files);
    if (px)
        proxy_settle(px, 1);
    out->proxy = px;
    out->session = s;
    out->sock = fd;
    out->err[0] = '\0';
    return CONN_OK;
fail:
    cut |= deadline_stop(dl);
    if (cut) { /* the window passed: ssh's words, whatever the failing call said */
        deadline_words(fd, s && libssh2_session_banner_get(s), cfg->loglevel, out->err,
                       sizeof out->err);
        st = CONN_FATAL;
        out->sticky = out->gssapi = 0;
    }
    free(files);
    /* A server that timed out would not hear a goodbye either: cut, do not wait. */
    conn_close(s, fd, timed_out || cut ? NULL : "connection not usable");
    if (px) {
        proxy_settle(px, 0); /* its last words reach the client before ours */
        proxy_release(px);
    }
    return st;
}

void conn_close(LIBSSH2_SESSION *session, int sock, const char *reason)
{
    if (session) {
        if (!reason && sock >= 0)
            shutdown(sock, SHUT_RDWR);
        /* Blocking, or libssh2_session_free returns EAGAIN (closing a channel) and frees
         * nothing; the timeout bounds the wait for a server that says nothing. */
        libssh2_session_set_blocking(session, 1);
        libssh2_session_set_timeout(session, 1000);
        if (reason)
            libssh2_session_disconnect(session, reason);
        if (libssh2_session_free(session) != 0 && sock >= 0) {
            /* The server did not answer the channel closes in time: libssh2 1.10 then
             * returns without freeing anything. Cut the socket, so that every close fails
             * at once, and free again: that one completes. */
            shutdown(sock, SHUT_RDWR);
            libssh2_session_free(session);
        }
    }
    if (sock >= 0)
        close(sock);
}
