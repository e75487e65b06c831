/* The broker's side of a terminal session: the pty request's modes and size, read from the
 * client's terminal, and ssh's escape sequences (~. ~? ~~) on the bytes typed. */
#ifndef MUXSHIM_TERM_H
#define MUXSHIM_TERM_H

#include <stddef.h>

#define TERM_MODES_MAX 256 /* libssh2 1.10's limit for TERM and modes together */

/* What the pty request needs, taken from the client's terminal before it goes raw. */
struct term_info {
    unsigned char modes[TERM_MODES_MAX]; /* RFC 4254 encoded terminal modes */
    size_t modes_len;
    unsigned cols, rows, xpixel, ypixel;
};

/* Fill ti from the terminal fd (termios and window size, as ssh's tty_make_modes); 0 or -1. */
int term_read(int fd, struct term_info *ti);

enum escape_action { ESC_NONE, ESC_CLOSE, ESC_HELP };

/* Escape-sequence state of one session's input. */
struct escape {
    int ch;         /* the escape character, or -1 for none */
    int line_start; /* the last byte ended a line (or nothing was typed yet) */
    int pending;    /* the escape character was typed at a line start */
};

/* Start with EscapeChar ch (-1: none). */
void escape_init(struct escape *e, int ch);
/* Filter n typed bytes into out (room for n + 1 bytes): escape sequences are taken out.
 * Sets *outlen; returns ESC_CLOSE (~.; the bytes after it are dropped) or ESC_HELP (~?,
 * *used says how many input bytes were consumed; call again with the rest), or ESC_NONE. */
enum escape_action escape_filter(struct escape *e, const unsigned char *in, size_t n,
                                 unsigned char *out, size_t *outlen, size_t *used);
/* The text ~? prints, for escape character ch. */
void escape_help(int ch, char *out, size_t outlen);

#endif
