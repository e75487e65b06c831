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

void fatal_watch(LIBSSH2_SESSION *s)
{
    noted = 0;
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(s, LIBSSH2_CALLBACK_MACERROR, (libssh2_cb_generic *)on_mac_error);
#else
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_MACERROR, (void *)on_mac_error);
#endif
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

void fatal_remote_id(int fd, char *out, size_t outlen)
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
    if ((kinds & FATAL_CLOSED) &&
        (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV)) {
        fatal_remote_id(fd, id, sizeof id);
        out[0] = '\0';
        if (in_loop)
            snprintf(out, outlen, "Connection to %.300s closed by remote host.", host);
        else if (loglevel >= 3)
            snprintf(out, outlen, "Connection closed by %s", id);
        return 1;
    }
    return 0;
}
