/* ssh's words for a broken transport (see fatal.h): OpenSSH 9's packet.c logit()s and
 * sshpkt_fatal(), as ssh_dispatch_run_fatal reports them, for libssh2's error codes. */
#include "fatal.h"

#include <libssh2.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The corruption this thread saw last: each connection is made by one worker and then
 * served by the loop's thread, which takes it with the error it caused. */
static __thread int noted;

void fatal_note(int rc)
{
    noted = rc;
}

int fatal_noted(void)
{
    return noted != 0;
}

static LIBSSH2_MACERROR_FUNC(on_mac_error)
{
    (void)session;
    (void)packet;
    (void)packet_len;
    (void)abstract;
    noted = LIBSSH2_ERROR_INVALID_MAC;
    return 1; /* the packet is refused, as without the callback */
}

/* The server's SSH_MSG_DISCONNECT while this thread makes a connection: reason and text. */
static __thread unsigned disc_reason;
static __thread char disc_text[401];

static LIBSSH2_DISCONNECT_FUNC(on_disconnect)
{
    (void)session;
    (void)language;
    (void)language_len;
    (void)abstract;
    disc_reason = (unsigned)reason;
    snprintf(disc_text, sizeof disc_text, "%.*s", message_len > 0 ? message_len : 0,
             message ? message : "");
    if (!disc_reason)
        disc_reason = ~0u; /* a reason 0 still says a message came */
}

void fatal_watch(LIBSSH2_SESSION *s)
{
    noted = 0;
    disc_reason = 0;
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_MACERROR, (libssh2_cb_generic *)on_mac_error);
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_DISCONNECT,
                                  (libssh2_cb_generic *)on_disconnect);
#else
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_MACERROR, (void *)on_mac_error);
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_DISCONNECT, (void *)on_disconnect);
#endif
}

int fatal_disconnected(void)
{
    return disc_reason != 0;
}

int fatal_disconnect_words(int fd, int loglevel, char *out, size_t outlen)
{
    if (!disc_reason)
        return 0;
    char id[NI_MAXHOST + 32];
    fatal_remote_id(fd, id, sizeof id);
    /* an error() (LogLevel ERROR), then sshpkt_fatal's logdie (INFO) */
    int n = 0;
    out[0] = '\0';
    if (loglevel >= 2)
        n = snprintf(out, outlen, "Received disconnect from %s:%u: %s%s", id,
                     disc_reason == ~0u ? 0 : disc_reason, disc_text, loglevel >= 3 ? "\r\n" : "");
    if (loglevel >= 3 && n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, "Disconnected from %s", id);
    return 1;
}

/* Whether s's packets from the server carry their length in the clear or as AEAD data
 * (an -etm MAC, AES-GCM, chacha20-poly1305): then ssh checks it before the MAC. */
static int aead(LIBSSH2_SESSION *s)
{
    const char *c = s ? libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_SC) : NULL;
    return c && (strstr(c, "gcm") || strstr(c, "poly1305"));
}

static int length_first(LIBSSH2_SESSION *s)
{
    const char *m = s ? libssh2_session_methods(s, LIBSSH2_METHOD_MAC_SC) : NULL;
    return aead(s) || (m && strstr(m, "-etm@"));
}

int fatal_channel_only(int rc)
{
    switch (rc) {
    case LIBSSH2_ERROR_CHANNEL_FAILURE:
    case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
    case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
    case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
    case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
    case LIBSSH2_ERROR_CHANNEL_CLOSED:
    case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
        return 1;
    default:
        return 0;
    }
}

int fatal_code(LIBSSH2_SESSION *s, int rc)
{
    int n = noted;
    noted = 0;
    if (n)
        return n;
    if (rc == FATAL_UNSAID)
        return aead(s) ? LIBSSH2_ERROR_DECRYPT : LIBSSH2_ERROR_OUT_OF_BOUNDARY;
    return rc;
}

/* The peer this thread's connection was made to, as fatal_peer_note saw it. */
static __thread int peer_fd = -1;
static __thread char peer_id[NI_MAXHOST + NI_MAXSERV + 8];

static void remote_id_now(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[NI_MAXHOST] = "UNKNOWN", serv[NI_MAXSERV] = "65535";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(host, sizeof host, "UNKNOWN");
        snprintf(serv, sizeof serv, "65535");
    }
    snprintf(out, outlen, "%s port %s", host, serv);
}

void fatal_peer_note(int fd)
{
    peer_fd = fd;
    remote_id_now(fd, peer_id, sizeof peer_id);
}

void fatal_remote_id(int fd, char *out, size_t outlen)
{
    if (fd >= 0 && fd == peer_fd) /* a reset socket has no peer any more: ssh's is cached */
        snprintf(out, outlen, "%.340s", peer_id);
    else
        remote_id_now(fd, out, outlen);
}

int fatal_words(LIBSSH2_SESSION *s, int rc, int kinds, int fd, int in_loop, const char *host,
                int loglevel, char *out, size_t outlen)
{
    /* What ssh logs first (logit, at INFO), and sshpkt_fatal's ssh_err() text. */
    const char *first = "", *why = NULL;
    if (kinds & FATAL_CORRUPT) {
        switch (rc) {
        case LIBSSH2_ERROR_INVALID_MAC: /* a MAC over the packet (hmac, -etm, umac) */
            first = "Corrupted MAC on input.\r\n";
            why = "message authentication code incorrect";
            break;
        case LIBSSH2_ERROR_DECRYPT: /* an AEAD tag, or a packet's padding */
            why = "message authentication code incorrect";
            break;
        case LIBSSH2_ERROR_OUT_OF_BOUNDARY:
            /* A packet length out of bounds (ssh's "Bad packet length N." before this needs
             * the N libssh2 does not tell): ssh gives up at once where the length is
             * checked before the MAC, else it discards and fails the MAC. */
            why =
                length_first(s) ? "Connection corrupted" : "message authentication code incorrect";
            break;
        case LIBSSH2_ERROR_HOSTKEY_SIGN: /* the exchange hash's signature does not verify */
            why = "incorrect signature";
            break;
        default:
            break;
        }
    }
    char id[NI_MAXHOST + 32];
    if (why) {
        fatal_remote_id(fd, id, sizeof id);
        out[0] = '\0';
        if (loglevel >= 3)
            snprintf(out, outlen, "%sssh_dispatch_run_fatal: Connection to %s: %s", first, id, why);
        return 1;
    }
    if ((kinds & FATAL_CLOSED) && !in_loop && rc == LIBSSH2_ERROR_SOCKET_DISCONNECT &&
        fatal_disconnect_words(fd, loglevel, out, outlen))
        return 1;
    if ((kinds & FATAL_CLOSED) &&
        (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV ||
         rc == LIBSSH2_ERROR_SOCKET_SEND)) {
        fatal_remote_id(fd, id, sizeof id);
        out[0] = '\0';
        if (in_loop)
            snprintf(out, outlen, "Connection to %.300s closed by remote host.", host);
        else if (loglevel >= 3) /* a send that fails met the peer's reset, as ssh's read would */
            snprintf(out, outlen, "Connection %s by %s",
                     rc == LIBSSH2_ERROR_SOCKET_SEND ? "reset" : "closed", id);
        return 1;
    }
    return 0;
}
