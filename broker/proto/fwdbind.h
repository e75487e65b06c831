/* A forward's listening sockets, bound as ssh's channel_setup_fwd_listener_tcpip and
 * unix_listener bind them: muxssh for a session's -L/-D, the broker for -O forward. */
#ifndef MUXSHIM_FWDBIND_H
#define MUXSHIM_FWDBIND_H

#include <stddef.h>
#include <stdint.h>

/* Where ssh's words for a failure go: level 2 is ssh's error() (shown from LogLevel ERROR),
 * line without its end. */
typedef void fwdbind_say_fn(void *arg, int level, const char *line);

/* Bind listen, a forward's listen word as ssh -G prints it ("[HOST]:PORT", "PORT", or a path:
 * a word with a '/'), with ssh's rules: `localhost` or no host is loopback (every address
 * under FWD_GATEWAY_PORTS in flags), `*` or empty every address, else that address; a path
 * under umask mask, unlinked first with FWD_BIND_UNLINK. The listening sockets (close-on-exec)
 * go in fds (room for max); returns how many, 0 when nothing listens (each failure said). */
int fwdbind_listen(const char *listen, uint32_t flags, uint32_t mask, int *fds, int max,
                   fwdbind_say_fn *say, void *arg);

#endif
