/* SOCKS 4, 4a and 5 CONNECT requests as ssh's channel_decode_socks4 and channel_decode_socks5
 * read them: parsing only, no I/O, no heap (muxssh's -D and the broker's -O forward -D). */
#ifndef MUXSHIM_SOCKSPARSE_H
#define MUXSHIM_SOCKSPARSE_H

#include <stddef.h>
#include <stdint.h>

#define SOCKS_HOST_MAX 1025 /* a name or numeric address, with its NUL */

enum socks_step {
    SOCKS_BAD = -1,    /* ssh drops the connection */
    SOCKS_MORE = 0,    /* not whole yet: read more */
    SOCKS_METHOD = 1,  /* a SOCKS 5 greeting: send socks_method_reply, then parse the rest */
    SOCKS_REQUEST = 2, /* a whole CONNECT request: version, host and port are set */
};

/* One connection's request, as far as it is parsed. Zero it before the first call. */
struct socks_req {
    int version;     /* 4 (4a too) or 5, once known */
    int method_done; /* SOCKS 5: the greeting was answered */
    char host[SOCKS_HOST_MAX];
    int port;
    size_t used; /* bytes of the input the last SOCKS_METHOD or SOCKS_REQUEST step took */
};

/* The SOCKS 5 method ssh chooses: no authentication. */
extern const uint8_t socks_method_reply[2];

/* Parse the len bytes at buf (what the connection sent since the last step that took bytes):
 * one of enum socks_step. Never looks past the step's bytes: what follows is the channel's. */
int socks_parse(struct socks_req *r, const uint8_t *buf, size_t len);
/* ssh's "granted" reply to a request of version (4 or 5), sent once the channel is open, into
 * out (room for 10 bytes); its length. */
size_t socks_reply(int version, uint8_t *out);
/* Whether PermitRemoteOpen (ssh -G's words: "any", "none", or HOST:PORT ...; empty: any)
 * lets a dynamic remote forward open host:port, as ssh's open_match; no heap. */
int socks_permitted(const char *list, const char *host, int port);

#endif
