/* What argv.c and argv_words.c share (argv.h is the interface). */
#ifndef MUXSHIM_ARGV_INT_H
#define MUXSHIM_ARGV_INT_H

#include "argv.h"

enum { SESSION_UNSET = -1, SESSION_NONE, SESSION_SUBSYSTEM, SESSION_DEFAULT };

/* Everything ssh remembers while parsing that decides a usage error. */
struct parse_state {
    struct ssh_args *out;
    int cap_opts;
    const char *user;       /* first of -l, -o User, the destination's user */
    char *user_copy;        /* heap copy when it came from -o User */
    int port_set;           /* -p, -o Port or the URI's port was seen */
    int session_type;       /* from -N, -s, -o SessionType */
    int remote_command_set; /* -o RemoteCommand seen (first wins) */
    int remote_command;     /* ... and it is not "none" */
    int proxy_command_set;
    int jump_set;
    int stdio_forward;
    int syslog;
    int logfile;
    enum ssh_dialect dialect;
    int need_dialect; /* a -P was met with dialect SSH_DIALECT_UNKNOWN */
    char *err;
    size_t errlen;
};

/* argv.c */
/* Stores a one-line reason and returns -1. */
int argv_fail(struct parse_state *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* argv_words.c */
/* OpenSSH's a2port(): a number 0..65535 or a tcp service name; -1 if neither. */
int argv_a2port(const char *s);
/* ssh's check of -e: "^X", one character, or "none". */
int argv_valid_escape(const char *s);
/* The queries ssh -Q answers (anything else is a fatal error). */
int argv_valid_query(const char *q);
/* The Debian 9.2p1 build (with the upstream 9.6 fix) refuses these host names. */
int argv_valid_hostname(const char *s);
/* ... and these remote user names. */
int argv_valid_ruser(const char *s);
/* Records what a -o line means for muxssh and for ssh's own command-line checks; the line is
 * split as readconf's process_config_line() does. 0 or -1 (argv_fail). */
int argv_note_config_line(struct parse_state *ps, const char *line);
/* Takes user, host and port from the destination word as ssh does. Returns 0 or -1. */
int argv_parse_destination(struct parse_state *ps, const char *word, char **user, int *port,
                           char **host);

#endif
