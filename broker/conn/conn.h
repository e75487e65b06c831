/* Making one authenticated SSH connection (blocking; run in a worker thread). */
#ifndef MUXSHIM_CONN_H
#define MUXSHIM_CONN_H

#include <libssh2.h>
#include <stddef.h>

#include "sshconfig.h"

struct proxy;

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
    /* The asking client, for the commands ssh would run (ProxyCommand, KnownHostsCommand):
     * its stderr (a dup; none when ≤ 2), environment and working directory (NULL: none). */
    int errfd;
    char *const *env;
    const char *cwd;
};

#define CF_BLOB_MAX 2048 /* an SSH public key blob (RSA 8192 is about 1 KB) */
#define CF_MAX_KEYS 16   /* agent keys and refused keys remembered per connection */

/* A public key, by the SHA-256 of its wire blob. */
struct keyid {
    unsigned char h[32];
};

enum conn_login {
    LOGIN_NONE = 0, /* password or keyboard-interactive: no key */
    LOGIN_KEY,      /* a public key (login_key) */
    LOGIN_FILE,     /* an identity file whose public half is unknown (PEM, no .pub) */
};

/* What one made connection is, recorded at connect time: the sharing decision
 * (conn_accepts in accept.h) compares a session's settings with it. */
struct conn_facts {
    unsigned char hostkey[CF_BLOB_MAX]; /* the server's host key, SSH wire form */
    size_t hostkey_len;
    enum conn_login login;
    struct keyid login_key;  /* LOGIN_KEY: the key that logged in */
    int login_by_agent;      /* LOGIN_KEY: it came from the agent */
    char pkcs11[HC_STR];     /* LOGIN_KEY from a token: the PKCS11Provider that holds it ("") */
    char login_file[HC_STR]; /* LOGIN_FILE: the identity file's path */
    char agent[256];         /* the agent socket auth asked ("" none) ... */
    struct keyid agent_keys[CF_MAX_KEYS]; /* ... and the keys it listed, in its order */
    int n_agent_keys;
    char fwd_agent[256]; /* the agent socket its sessions forward ("" none: accept_fwd_agent) */
    struct keyid refused[CF_MAX_KEYS]; /* keys offered before the login that were not taken */
    int n_refused;
    char kex[64], hostkey_alg[64]; /* negotiated (libssh2_session_methods) */
    char cipher_cs[64], cipher_sc[64], mac_cs[64], mac_sc[64];
    char server_kex[1024]; /* the key exchanges the server offered ("": unknown, engine.h) */
    int family;            /* AF_INET or AF_INET6 of the peer; 0 through a tunnel */
    int hk_known;          /* the host key was in known_hosts (or KnownHostsCommand's lines) */
    int by_khc;            /* ... in KnownHostsCommand's lines only: khc is ... */
    unsigned char khc[32]; /* ... the SHA-256 of that command's expanded words */
    int by_dns;            /* let in by a DNSSEC-validated SSHFP match (VerifyHostKeyDNS yes) */
    char banner[4096];     /* the server's auth banner as ssh prints it ("" none; engine.h) */
    int banner_said;       /* ... already shown to the client asked during the login */
    int kex_said;          /* engine_kex_words shown to that client after the key exchange */
};

/* The id of a public key blob. */
void conn_keyid(const unsigned char *blob, size_t len, struct keyid *out);

struct conn_result {
    LIBSSH2_SESSION *session; /* blocking mode, authenticated; NULL on failure */
    int sock;                 /* its TCP socket (TCP_NODELAY set), -1 on failure */
    char err[512];            /* one line, without program prefix */
    int sticky;               /* CONN_FALLBACK that will not change soon (an RSA key this
                                 libssh2 cannot use): send this host to the real ssh at once */
    int gssapi;               /* CONN_FALLBACK because GSSAPI would log in (auth.h) */
    struct conn_facts facts;  /* CONN_OK: what the connection is */
    struct proxy *proxy;      /* CONN_OK through a ProxyCommand: the command (proxy.h) */
};

/* TCP connect (ConnectTimeout, AddressFamily, BindAddress) unless sock >= 0 (a connected
 * stream, owned from here on, such as a jump host's tunnel), handshake with methods that fit
 * the host's known keys, host key check, user auth in ssh's order. Blocking.
 * agent_sock is the client's SSH_AUTH_SOCK, krb5cc its KRB5CCNAME (either NULL if unset). */
enum conn_status conn_establish(const struct hostcfg *cfg, int sock, const char *agent_sock,
                                const char *krb5cc, const struct conn_prompter *prompter,
                                struct conn_result *out);
/* Close and free a session made by conn_establish: with a reason, say goodbye (disconnect,
 * channel closes; 1 s at most); with reason NULL the link is dead or stalled, so cut the
 * socket first and let libssh2 free everything without waiting on the server. */
void conn_close(LIBSSH2_SESSION *session, int sock, const char *reason);

#endif
