/* Making one authenticated SSH connection (blocking; run in a worker thread). */
#ifndef MUXSHIM_CONN_H
#define MUXSHIM_CONN_H

#include <libssh2.h>
#include <stddef.h>

#include "sshconfig.h"

enum conn_status {
    CONN_OK = 0,
    CONN_FATAL = 1,    /* error that plain ssh would report the same way (resolve, connect,
                          timeout): err holds ssh's exact wording, e.g.
                          "ssh: connect to host 127.0.0.1 port 1: Connection refused" */
    CONN_FALLBACK = 2, /* anything else (host key unknown/changed, auth failed, unsupported
                          key or algorithm): run the real ssh, which talks to the user */
};

/* Asks the user something on behalf of the broker (seam for prompts; NULL = never ask). */
struct conn_prompter {
    /* Returns 0 and the answer (NUL-terminated) or -1 if the user cannot be asked. */
    int (*ask)(void *ctx, const char *prompt, int echo, char *answer, size_t answerlen);
    /* Shows text (one or more lines) on the asking client's stderr; 0 or -1. */
    int (*say)(void *ctx, const char *text);
    void *ctx;
};

struct conn_result {
    LIBSSH2_SESSION *session; /* blocking mode, authenticated; NULL on failure */
    int sock;                 /* its TCP socket (TCP_NODELAY set), -1 on failure */
    char err[512];            /* one line, without program prefix */
    int sticky;               /* CONN_FALLBACK that will not change soon (an RSA key this
                                 libssh2 cannot use): send this host to the real ssh at once */
};

/* TCP connect (ConnectTimeout, AddressFamily, BindAddress) unless sock >= 0 (a connected
 * stream, owned from here on, such as a jump host's tunnel), handshake with methods that fit
 * the host's known keys, host key check, user auth in ssh's order. Blocking.
 * agent_sock is the client's SSH_AUTH_SOCK (or NULL). */
enum conn_status conn_establish(const struct hostcfg *cfg, int sock, const char *agent_sock,
                                const struct conn_prompter *prompter, struct conn_result *out);
/* Close and free a session made by conn_establish: with a reason, say goodbye (disconnect,
 * channel closes; 1 s at most); with reason NULL the link is dead or stalled, so cut the
 * socket first and let libssh2 free everything without waiting on the server. */
void conn_close(LIBSSH2_SESSION *session, int sock, const char *reason);

#endif
