/* One authenticated SSH connection: TCP as ssh makes it, handshake, known_hosts, auth. */
#include "conn.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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
#include "fingerprint.h"
#include "hostkey.h"
#include "khcmd.h"
#include "proxy.h"
#include "sshfp.h"
#include "words.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    libssh2_init(0);
}

/* connect() bounded by timeout_ms (-1 = none); returns 0 or -1 with errno. */
static int timed_connect(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int rc = connect(fd, sa, len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        do
            rc = poll(&p, 1, timeout_ms);
        while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (rc < 0)
            return -1;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            return -1;
        if (soerr) {
            errno = soerr;
            return -1;
        }
        rc = 0;
    }
    if (rc < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl);
}

/* The address of interface name to bind to for family, as ssh's BindInterface picks it: the
 * first one that is neither loopback nor link-local, else the first at all. 0 or -1. */
static int iface_addr(const char *name, int family, struct sockaddr_storage *out, socklen_t *len)
{
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) != 0)
        return -1;
    int found = -1;
    for (int allow_local = 0; allow_local < 2 && found < 0; allow_local++) {
        for (struct ifaddrs *ifa = all; ifa && found < 0; ifa = ifa->ifa_next) {
            if (!ifa->ifa_addr || !ifa->ifa_name || !(ifa->ifa_flags & IFF_UP) ||
                ifa->ifa_addr->sa_family != family || strcmp(ifa->ifa_name, name) != 0)
                continue;
            if (family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)ifa->ifa_addr;
                if (!allow_local && a->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
                    continue;
                *len = sizeof *a;
            } else {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ifa->ifa_addr;
                if (!allow_local &&
                    (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)))
                    continue;
                *len = sizeof *a;
            }
            memcpy(out, ifa->ifa_addr, *len);
            found = 0;
        }
    }
    freeifaddrs(all);
    return found;
}

/* Bind fd to BindAddress, else to BindInterface's address, as ssh_create_socket does;
 * -1 with what ssh logs in why ("" if it logs nothing). */
static int bind_local(int fd, const struct hostcfg *cfg, int family, char *why, size_t whylen)
{
    why[0] = '\0';
    if (!cfg->bindaddress[0]) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        if (iface_addr(cfg->bindinterface, family, &ss, &len) < 0) {
            snprintf(why, whylen, "getifaddrs: %.64s: no suitable addresses\r\n",
                     cfg->bindinterface);
            return -1;
        }
        return bind(fd, (struct sockaddr *)&ss, len);
    }
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST},
                    *res = NULL;
    if (getaddrinfo(cfg->bindaddress, NULL, &hints, &res) != 0)
        return -1;
    int rc = bind(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return rc;
}

/* TCP connection like ssh_connect_direct; returns the socket or -1 with ssh's wording. */
static int tcp_connect(const struct hostcfg *cfg, char *err, size_t errlen)
{
    char port[16], ebuf[128];
    snprintf(port, sizeof port, "%d", cfg->port > 0 ? cfg->port : 22);
    struct addrinfo hints = {.ai_family = cfg->addressfamily, .ai_socktype = SOCK_STREAM}, *res;
    int gai = getaddrinfo(cfg->hostname, port, &hints, &res);
    if (gai != 0) {
        const char *why =
            gai == EAI_SYSTEM ? strerror_r(errno, ebuf, sizeof ebuf) : gai_strerror(gai);
        snprintf(err, errlen, "ssh: Could not resolve hostname %.100s: %s", cfg->hostname, why);
        return -1;
    }
    int fd = -1, saved = 0;
    char said[256] = ""; /* what ssh would have logged before its final error */
    int timeout_ms = cfg->connecttimeout > 0 ? cfg->connecttimeout * 1000 : -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            saved = EAFNOSUPPORT;
            continue;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char why[128] = "";
        if (fd < 0 || ((cfg->bindaddress[0] || cfg->bindinterface[0]) &&
                       bind_local(fd, cfg, ai->ai_family, why, sizeof why) < 0)) {
            saved = 0;
            if (strlen(said) + strlen(why) < sizeof said)
                strcat(said, why);
            if (fd >= 0)
                close(fd);
            fd = -1;
            continue;
        }
        if (timed_connect(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "%sssh: connect to host %.300s port %s: %s", said, cfg->hostname,
                 port, saved ? strerror_r(saved, ebuf, sizeof ebuf) : "failure");
        return -1;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on); /* TCPKeepAlive yes */
    return fd;
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

/* Ask "The authenticity of host ..." as ssh does (with the picture under VisualHostKey and
 * the SSHFP verdict under VerifyHostKeyDNS: dns 1 matching, else not); 1 yes, 0 no, -1
 * cannot ask. */
static int ask_unknown(const unsigned char *blob, size_t len, int fd, const struct hostcfg *cfg,
                       const struct conn_prompter *pr, const char *name, const char *type, int dns)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ntop[NI_MAXHOST] = "?", ip[NI_MAXHOST + 16];
    int port = cfg->port;
    int ipsock = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
                 (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
    if (ipsock)
        getnameinfo((struct sockaddr *)&ss, sl, ntop, sizeof ntop, NULL, 0, NI_NUMERICHOST);
    if (!ipsock) /* through a jump host or a ProxyCommand: ssh's own words */
        snprintf(ip, sizeof ip, "<no hostip for proxy command>");
    else if (port != 22 && port != 0)
        snprintf(ip, sizeof ip, "[%s]:%d", ntop, port);
    else
        snprintf(ip, sizeof ip, "%s", ntop);
    char fp[80], art[512] = "", dnsline[64] = "";
    fp_sha256(blob, len, fp, sizeof fp);
    if (cfg->visualhostkey && fp_randomart(blob, len, art, sizeof art - 1) == 0)
        strcat(art, "\n");
    if (cfg->verifyhostkeydns)
        snprintf(dnsline, sizeof dnsline, "%s host key fingerprint found in DNS.\n",
                 dns == 1 ? "Matching" : "No matching");
    char q[2048], a[256];
    snprintf(q, sizeof q,
             "The authenticity of host '%.200s (%s)' can't be established.\n"
             "%s key fingerprint is %s.\n%s%s"
             "This key is not known by any other names.\n"
             "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
             name, ip, fp_type_label(type), fp, art, dnsline);
    for (;;) {
        if (pr->ask(pr->ctx, q, 1, a, sizeof a) != 0)
            return -1;
        char want[80], *p = a + strspn(a, " \t");
        p[strcspn(p, " \t\r\n")] = '\0';
        snprintf(want, sizeof want, "%s", fp);
        if (strcasecmp(p, "yes") == 0 || strcmp(p, want) == 0)
            return 1;
        if (!*p || strcasecmp(p, "no") == 0)
            return 0;
        snprintf(q, sizeof q, "Please type 'yes', 'no' or the fingerprint: ");
    }
}

/* VerifyHostKeyDNS as ssh's verify_host_key: 1 when a DNSSEC-validated SSHFP record lets
 * the key in (yes only); else 0 with *dns (1 a record matches, 0 none or no answer); -1
 * when records exist and none matches (the real ssh warns and goes on: hand over). */
static int check_dns(const struct hostcfg *cfg, const unsigned char *blob, size_t len, int *dns)
{
    char host[HC_STR];
    int flags = 0;
    *dns = 0;
    if (!cfg->verifyhostkeydns)
        return 0;
    snprintf(host, sizeof host, "%s", cfg->hostname);
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (sshfp_verify(host, blob, len, &flags) < 0 || !(flags & SSHFP_FOUND))
        return 0; /* no answer: known_hosts decides, silently, as in ssh */
    if (!(flags & SSHFP_MATCH))
        return -1;
    *dns = 1;
    return cfg->verifyhostkeydns == 1 && (flags & SSHFP_SECURE) ? 1 : 0;
}

/* known_hosts (and KnownHostsCommand's lines) for the key; into f what let it in. */
static enum hk_result known(const struct hostcfg *cfg, char (*files)[HC_STR], int nfiles,
                            const char *name, const unsigned char *blob, size_t len,
                            const struct conn_prompter *pr, struct conn_facts *f, char *err,
                            size_t errlen)
{
    if (!cfg->knownhostscommand[0])
        return hostkey_check(files, nfiles, name, blob, len);
    char *extra = NULL;
    if (khcmd_run(cfg, pr ? pr->env : NULL, pr ? pr->cwd : NULL,
                  pr && pr->errfd > 2 ? pr->errfd : -1, name, blob, len, &extra, err, errlen) < 0)
        return (enum hk_result) - 1;
    enum hk_result r = hostkey_check_extra(files, nfiles, extra, name, blob, len);
    free(extra);
    if (r == HK_MATCH && hostkey_check(files, nfiles, name, blob, len) != HK_MATCH)
        f->by_khc = khcmd_id(cfg, pr ? pr->env : NULL, name, blob, len, f->khc) == 0;
    return r;
}

/* known_hosts policy; returns CONN_OK or a failure with err set. */
static enum conn_status check_hostkey(LIBSSH2_SESSION *s, int fd, const struct hostcfg *cfg,
                                      char (*files)[HC_STR], int nfiles, const char *name,
                                      const struct conn_prompter *pr, struct conn_facts *f,
                                      char *err, size_t errlen)
{
    size_t len = 0;
    int ktype = 0, dns = 0;
    const unsigned char *blob = (const unsigned char *)libssh2_session_hostkey(s, &len, &ktype);
    char type[64];
    if (!blob || hostkey_blob_type(blob, len, type, sizeof type) < 0) {
        snprintf(err, errlen, "no host key from server");
        return CONN_FALLBACK;
    }
    switch (check_dns(cfg, blob, len, &dns)) {
    case 1:
        f->by_dns = 1;
        return CONN_OK;
    case -1:
        snprintf(err, errlen, "the SSHFP records of %.200s do not match its host key", name);
        return CONN_FALLBACK;
    }
    switch (known(cfg, files, nfiles, name, blob, len, pr, f, err, errlen)) {
    case HK_MATCH:
        f->hk_known = 1;
        return CONN_OK;
    case HK_REVOKED:
        snprintf(err, errlen, "host key for %.200s is revoked", name);
        return CONN_FALLBACK;
    case HK_CHANGED:
        snprintf(err, errlen, "host key for %.200s has changed", name);
        return CONN_FALLBACK;
    case HK_CA_ONLY:
        snprintf(err, errlen, "host %.200s is known by a certificate authority only", name);
        return CONN_FALLBACK;
    case HK_UNKNOWN:
        break;
    default:
        return CONN_FALLBACK; /* KnownHostsCommand did not run or failed: err says why */
    }
    enum hc_strict st = cfg->stricthostkeychecking;
    if (st == HC_STRICT_ASK) {
        int yes = pr && !cfg->batchmode ? ask_unknown(blob, len, fd, cfg, pr, name, type, dns) : -1;
        if (yes < 0) {
            snprintf(err, errlen, "host key for %.200s is unknown", name);
            return CONN_FALLBACK;
        }
        if (yes == 0) {
            snprintf(err, errlen, "Host key verification failed.");
            return CONN_FATAL;
        }
    } else if (st == HC_STRICT_YES || cfg->n_userknownhostsfile == 0) {
        snprintf(err, errlen, "host key for %.200s is unknown", name);
        return CONN_FALLBACK;
    }
    /* accept-new, no (new keys only; a changed key was refused above), or a yes answer. */
    if (cfg->n_userknownhostsfile == 0 ||
        hostkey_append(cfg->userknownhostsfile[0], name, blob, len, cfg->hashknownhosts, err,
                       errlen) < 0) {
        if (cfg->n_userknownhostsfile == 0)
            snprintf(err, errlen, "no known_hosts file to add %.200s to", name);
        return CONN_FALLBACK;
    }
    if (cfg->loglevel >= 3 && pr && pr->say) {
        char msg[HC_STR + 128];
        fp_added_line(name, blob, len, msg, sizeof msg);
        pr->say(pr->ctx, msg);
    }
    return CONN_OK;
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
        char *msg = NULL;
        int ec = libssh2_session_last_error(s, &msg, NULL, 0);
        snprintf(out->err, sizeof out->err, "handshake failed: %s (%d)", msg ? msg : "unknown", ec);
        if (px && !deadline_fired(dl) &&
            (!libssh2_session_banner_get(s) || ec == LIBSSH2_ERROR_SOCKET_DISCONNECT)) {
            /* The command ended (or closed its output): ssh's words, before or after the
             * server's banner; a proxied peer has no address, hence UNKNOWN port 65535.
             * kex_exchange_identification's line is an error() before ssh 9.5, verbose()
             * from then on. */
            int said = !libssh2_session_banner_get(s) &&
                       cfg->loglevel >= (cfg->ssh_9_5 ? 4 : 2);
            snprintf(out->err, sizeof out->err, "%sConnection closed by UNKNOWN port 65535",
                     said ? "kex_exchange_identification: Connection closed by remote host\r\n"
                          : "");
            st = CONN_FATAL;
        } else if (!deadline_fired(dl) &&
                   fatal_words(s, fatal_code(s, ec), FATAL_CORRUPT, fd, 0, cfg->hostname,
                               cfg->loglevel, out->err, sizeof out->err)) {
            st = CONN_FATAL; /* a corrupted stream: ssh would fail the same way */
        }
        goto fail;
    }
    st = check_hostkey(s, fd, cfg, files, nfiles, name, prompter, &out->facts, out->err,
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
        fatal_words(s, libssh2_session_last_errno(s), FATAL_CORRUPT, fd, 0, cfg->hostname,
                    cfg->loglevel, out->err, sizeof out->err)) {
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
