/* muxssh's side of the broker socket: finding or starting the broker, and requests. */
#ifndef MUXSHIM_CLIENT_H
#define MUXSHIM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "proto.h"

/* client_connect's answer when it will not talk to what it found: the directory fails the
 * checks, or broker.sock is served by another uid (nothing was sent). */
#define CLIENT_REFUSED (-2)

/* Connect to our own broker in dir (SO_PEERCRED checked before a byte is sent); when start
 * is set and nobody answers, start one and wait for it. Returns the socket (HELLO
 * exchanged), -1 with a one-line reason in err (no broker), or CLIENT_REFUSED with err. */
int client_connect(const char *dir, int start, char *err, size_t errlen);
/* Send OPEN with the three fds. Returns 0 or -1 with err. */
int client_open(int sock, const char *real_ssh, const char *cwd, char *const *opts,
                const char *dest, const char *command, char *const *env, uint32_t flags,
                const int fds[3], char *err, size_t errlen);
/* Send CONTROL. Returns 0 or -1 with err. */
int client_control(int sock, uint32_t op, const char *real_ssh, const char *cwd, char *const *opts,
                   const char *dest, char *const *env, char *err, size_t errlen);
/* Best effort, never starting a broker or waiting on one: tell the broker already
 * listening in dir (if any) that this session for dest went to the real ssh, and why. */
void client_notify_handed(const char *dir, const char *real_ssh, const char *cwd, char *const *opts,
                          const char *dest, const char *reason, char *const *env);
/* Send WINDOW_CHANGE with the terminal's new size. 0 or -1. */
int client_window_change(int sock, const struct winsize *ws, char *err, size_t errlen);
/* Send LOCAL_DONE {status}: the LocalCommand has run. 0 or -1. */
int client_local_done(int sock, uint32_t status, char *err, size_t errlen);
/* Send FORWARDS_DONE: the session's forwards are bound. 0 or -1. */
int client_forwards_done(int sock, char *err, size_t errlen);
/* Send X11_AUTH_REPLY {ok, protocol, cookie (hex)}; the frame is wiped. 0 or -1. */
int client_x11_auth_reply(int sock, int ok, const char *proto, const char *cookie, char *err,
                          size_t errlen);
/* Send PROMPT_REPLY {id, ok, answer}; the frame is wiped after sending. 0 or -1. */
int client_prompt_reply(int sock, uint32_t id, int ok, const char *answer, char *err,
                        size_t errlen);
/* Send INCOMING_REPLY {id, errno}, with fd (the connection) when err is 0. 0 or -1. */
int client_incoming_reply(int sock, uint32_t id, int err_no, int fd, char *err, size_t errlen);
/* Receive and decode one frame into m (body kept in *body, caller frees). Returns 1, 0 on
 * EOF, -1 on error with err. */
int client_recv(int sock, struct proto_msg *m, uint8_t **body, char *err, size_t errlen);
/* client_recv that keeps the fd an INCOMING brings in *fd (-1: none; any other fd is
 * closed). */
int client_recv_fd(int sock, struct proto_msg *m, uint8_t **body, int *fd, char *err,
                   size_t errlen);

#endif
