/* ssh's words for a broken transport (see fatal.h): OpenSSH 9's packet.c logit()s and
 * sshpkt_fatal(), as ssh_dispatch_run_fatal reports them, for libssh2's error codes. */
#include "fatal.h"

#include <libssh2.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>

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

int fatal_words(int rc, int kinds, int fd, int in_loop, const char *host, int loglevel,
                char *out, size_t outlen)
{
    /* What ssh logs first (logit, at INFO), and sshpkt_fatal's ssh_err() text. */
    const char *first = "", *why = NULL;
    out[0] = '\0';
    if (kinds & FATAL_CORRUPT) {
        switch (rc) {
        case LIBSSH2_ERROR_INVALID_MAC: /* a MAC over the packet (hmac, -etm, umac) */
            first = "Corrupted MAC on input.\r\n";
            why = "message authentication code incorrect";
            break;
        case LIBSSH2_ERROR_DECRYPT: /* an AEAD tag (chacha20-poly1305, AES-GCM) */
            why = "message authentication code incorrect";
            break;
        case LIBSSH2_ERROR_OUT_OF_BOUNDARY: /* a packet length out of bounds: ssh's "Bad
                                               packet length N." needs the N libssh2
                                               does not tell */
            why = "Connection corrupted";
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
        if (loglevel >= 3)
            snprintf(out, outlen, "%sssh_dispatch_run_fatal: Connection to %s: %s", first, id,
                     why);
        return 1;
    }
    if ((kinds & FATAL_CLOSED) &&
        (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV)) {
        fatal_remote_id(fd, id, sizeof id);
        if (in_loop)
            snprintf(out, outlen, "Connection to %.300s closed by remote host.", host);
        else if (loglevel >= 3)
            snprintf(out, outlen, "Connection closed by %s", id);
        return 1;
    }
    return 0;
}
