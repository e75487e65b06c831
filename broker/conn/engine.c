/* What differs between libssh2 versions: version, callbacks, the server's auth banner. */
#include "engine.h"

#include <stdio.h>
#include <string.h>

const char *engine_version(void)
{
    return libssh2_version(0);
}

const char *engine_built_version(void)
{
    return LIBSSH2_VERSION;
}

int engine_kex_pq(const char *name)
{
    return !strncmp(name, "sntrup761x25519-", 16) || !strncmp(name, "mlkem", 5);
}

size_t engine_kex_words(const char *kex, const char *hkalg, int loglevel, int warnweak, char *out,
                        size_t cap)
{
    char pq[256];
    size_t off = 0;
    out[0] = '\0';
    if (!kex || !kex[0])
        return 0;
    if (!hkalg)
        hkalg = "";
    if (loglevel >= 5) { /* DEBUG1 (-v): ssh's lines from its key exchange */
        engine_pq_kexes(pq, sizeof pq);
        if (!pq[0])
            off += (size_t)snprintf(out + off, cap - off,
                                    "debug1: muxshim: libssh2 %s has no post-quantum key "
                                    "exchange\r\n",
                                    engine_version());
        if (off < cap)
            off += (size_t)snprintf(out + off, cap - off,
                                    "debug1: kex: algorithm: %s\r\n"
                                    "debug1: kex: host key algorithm: %s\r\n",
                                    kex, hkalg);
    }
    /* OpenSSH 10.1 and later (sshconnect.c warn_nonpq_kex, after the key exchange and
     * before the login), at LogLevel INFO, word for word. */
    if (warnweak && loglevel >= 3 && !engine_kex_pq(kex) && off < cap)
        off += (size_t)snprintf(out + off, cap - off, "%s",
                                "** WARNING: connection is not using a post-quantum key exchange "
                                "algorithm.\r\n"
                                "** This session may be vulnerable to \"store now, decrypt "
                                "later\" attacks.\r\n"
                                "** The server may need to be upgraded. See "
                                "https://openssh.com/pq.html\r\n");
    return off < cap ? off : strlen(out);
}

void engine_pq_kexes(char *out, size_t cap)
{
    const char **algs = NULL;
    size_t off = 0;
    out[0] = '\0';
    LIBSSH2_SESSION *s = libssh2_session_init();
    int n = s ? libssh2_session_supported_algs(s, LIBSSH2_METHOD_KEX, &algs) : 0;
    for (int i = 0; i < n; i++) {
        if (!engine_kex_pq(algs[i]))
            continue;
        int w = snprintf(out + off, cap - off, "%s%s", off ? "," : "", algs[i]);
        if (w < 0 || (size_t)w >= cap - off)
            break;
        off += (size_t)w;
    }
    if (algs)
        libssh2_free(s, algs);
    if (s)
        libssh2_session_free(s);
}

#ifdef LIBSSH2_MUXSHIM_PQ
int engine_has_pq_api(void)
{
    return 1;
}

int engine_server_kex(LIBSSH2_SESSION *s, char *out, size_t cap)
{
    return libssh2_session_server_kex_methods(s, out, cap) < 0 ? -1 : 0;
}

const char *engine_kem_wanted(LIBSSH2_SESSION *s)
{
    return libssh2_session_kem_wanted(s);
}

size_t engine_kem_pair_len(const char *kex)
{
    return libssh2_kem_pair_len(kex);
}

int engine_kem_pair_make(const char *kex, unsigned char *pair)
{
    return libssh2_kem_pair_make(kex, pair);
}

void engine_kem_wait(LIBSSH2_SESSION *s, int on)
{
    libssh2_session_kem_wait(s, on);
}

int engine_kem_give(LIBSSH2_SESSION *s, const char *kex, const unsigned char *pair)
{
    return libssh2_session_kem_give(s, kex, pair) ? -1 : 0;
}
#else
/* A libssh2 without our patch (LIBSSH2=system): no hybrids, no server list. */
int engine_has_pq_api(void)
{
    return 0;
}

int engine_server_kex(LIBSSH2_SESSION *s, char *out, size_t cap)
{
    (void)s;
    if (cap)
        out[0] = '\0';
    return -1;
}

const char *engine_kem_wanted(LIBSSH2_SESSION *s)
{
    (void)s;
    return NULL;
}

size_t engine_kem_pair_len(const char *kex)
{
    (void)kex;
    return 0;
}

int engine_kem_pair_make(const char *kex, unsigned char *pair)
{
    (void)kex;
    (void)pair;
    return -1;
}

void engine_kem_wait(LIBSSH2_SESSION *s, int on)
{
    (void)s;
    (void)on;
}

int engine_kem_give(LIBSSH2_SESSION *s, const char *kex, const unsigned char *pair)
{
    (void)s;
    (void)kex;
    (void)pair;
    return -1;
}
#endif

int engine_kex_supported(const char *name)
{
    const char **algs = NULL;
    int found = 0;
    LIBSSH2_SESSION *s = libssh2_session_init();
    int n = s ? libssh2_session_supported_algs(s, LIBSSH2_METHOD_KEX, &algs) : 0;
    for (int i = 0; i < n && !found; i++)
        found = !strcmp(algs[i], name);
    if (algs)
        libssh2_free(s, algs);
    if (s)
        libssh2_session_free(s);
    return found;
}

int engine_has_streamlocal(void)
{
    return LIBSSH2_VERSION_NUM >= 0x010b01;
}

LIBSSH2_CHANNEL *engine_direct_streamlocal(LIBSSH2_SESSION *s, const char *path)
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    return libssh2_channel_direct_streamlocal_ex(s, path, "127.0.0.1", 0);
#else
    /* A session's such forwards go to ssh (policy.c); one held by -O forward is refused
     * there (fwdheld.c). Should one get here, its error is this, not the session's last
     * (an EAGAIN would hold the connection's channel open in flight). */
    (void)path;
    libssh2_session_set_last_error(s, LIBSSH2_ERROR_CHANNEL_FAILURE,
                                   "this libssh2 opens no direct-streamlocal channel");
    return NULL;
#endif
}

int engine_has_rfwd_streamlocal(void)
{
#ifdef LIBSSH2_MUXSHIM_STREAMLOCAL_FORWARD
    return 1;
#else
    return 0;
#endif
}

LIBSSH2_LISTENER *engine_forward_listen(LIBSSH2_SESSION *s, const char *bind, int port, int *bound,
                                        int queue)
{
    if (port != ENGINE_PORT_PATH)
        return libssh2_channel_forward_listen_ex(s, bind, port, bound, queue);
    *bound = 0;
#ifdef LIBSSH2_MUXSHIM_STREAMLOCAL_FORWARD
    return libssh2_channel_forward_listen_streamlocal(s, bind, queue);
#else
    /* A session's such forwards go to ssh (policy.c); one held by -O forward gets here and
     * is refused with this error, not the session's last (an EAGAIN would hold the
     * connection's one forward request in flight). */
    (void)queue;
    libssh2_session_set_last_error(s, LIBSSH2_ERROR_REQUEST_DENIED,
                                   "this libssh2 asks for no streamlocal-forward");
    return NULL;
#endif
}

/* libssh2's own (src/packet.c): exported by its static library, hidden in a shared one. */
int _libssh2_packet_ask(LIBSSH2_SESSION *session, unsigned char packet_type, unsigned char **data,
                        size_t *data_len, int match_ofs, const unsigned char *match_buf,
                        size_t match_len) __attribute__((weak));

void engine_drop_global_replies(LIBSSH2_SESSION *s)
{
    static const unsigned char types[] = {81, 82}; /* SSH_MSG_REQUEST_SUCCESS, _FAILURE */
    if (!_libssh2_packet_ask)
        return;
    for (size_t i = 0; i < sizeof types; i++) {
        unsigned char *data;
        size_t len;
        while (_libssh2_packet_ask(s, types[i], &data, &len, 0, NULL, 0) == 0)
            libssh2_free(s, data);
    }
}

void engine_set_recv(LIBSSH2_SESSION *s,
                     ssize_t (*fn)(libssh2_socket_t, void *, size_t, int, void **))
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_RECV, (libssh2_cb_generic *)fn);
#else
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, (void *)fn);
#endif
}

void engine_set_send(LIBSSH2_SESSION *s,
                     ssize_t (*fn)(libssh2_socket_t, const void *, size_t, int, void **))
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_SEND, (libssh2_cb_generic *)fn);
#else
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_SEND, (void *)fn);
#endif
}

#if LIBSSH2_VERSION_NUM >= 0x010b00
/* One byte as ssh's fmprintf shows it: printable ASCII, tab, newline and carriage return
 * and the bytes of multibyte characters as they are; other control bytes as \ooo. */
static size_t render_byte(unsigned char c, char *out, size_t room)
{
    if ((c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' || c == '\r') {
        if (room < 2)
            return 0;
        out[0] = (char)c;
        return 1;
    }
    if (room < 5)
        return 0;
    snprintf(out, room, "\\%03o", c);
    return 4;
}
#endif

int engine_banner(LIBSSH2_SESSION *s, char *out, size_t cap)
{
    out[0] = '\0';
#if LIBSSH2_VERSION_NUM >= 0x010b00
    char *b = NULL;
    if (libssh2_userauth_banner(s, &b) != 0 || !b || !*b)
        return 0;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)b; *p; p++) {
        size_t n = render_byte(*p, out + o, cap - o);
        if (!n)
            break;
        o += n;
    }
    out[o] = '\0';
    return o > 0;
#else
    (void)s;
    (void)cap;
    return 0;
#endif
}
