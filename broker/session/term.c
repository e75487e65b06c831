/* Terminal sessions in the broker: pty request modes and ssh's escape sequences. */
#include "term.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static size_t put_mode(unsigned char *p, size_t off, unsigned char op, uint32_t v)
{
    if (off + 5 > TERM_MODES_MAX - 1)
        return off;
    p[off] = op;
    p[off + 1] = (unsigned char)(v >> 24);
    p[off + 2] = (unsigned char)(v >> 16);
    p[off + 3] = (unsigned char)(v >> 8);
    p[off + 4] = (unsigned char)v;
    return off + 5;
}

/* RFC 4254 section 8 opcodes and the termios fields they stand for. */
struct cc_op {
    unsigned char op;
    int idx;
};
struct flag_op {
    unsigned char op;
    int field; /* 0 c_iflag, 1 c_lflag, 2 c_oflag, 3 c_cflag */
    tcflag_t bit;
};

static const struct cc_op ccs[] = {
    {1, VINTR},     {2, VQUIT},    {3, VERASE},  {4, VKILL},     {5, VEOF},
    {6, VEOL},      {7, VEOL2},    {8, VSTART},  {9, VSTOP},     {10, VSUSP},
    {12, VREPRINT}, {13, VWERASE}, {14, VLNEXT}, {18, VDISCARD},
};
/* libssh2 1.10 takes at most 256 bytes of TERM and modes together, so only the flags a
 * session's behaviour depends on are sent (OpenSSH sends more; the rest keep the server's
 * defaults, which match a Linux terminal's). */
static const struct flag_op flags[] = {
    {30, 0, IGNPAR},  {32, 0, INPCK},  {33, 0, ISTRIP}, {34, 0, INLCR},  {35, 0, IGNCR},
    {36, 0, ICRNL},   {38, 0, IXON},   {39, 0, IXANY},  {40, 0, IXOFF},  {41, 0, IMAXBEL},
    {42, 0, IUTF8},   {50, 1, ISIG},   {51, 1, ICANON}, {53, 1, ECHO},   {54, 1, ECHOE},
    {55, 1, ECHOK},   {56, 1, ECHONL}, {57, 1, NOFLSH}, {58, 1, TOSTOP}, {59, 1, IEXTEN},
    {60, 1, ECHOCTL}, {61, 1, ECHOKE}, {70, 2, OPOST},  {72, 2, ONLCR},  {91, 3, CS8},
    {92, 3, PARENB},
};

int term_read(int fd, struct term_info *ti)
{
    struct termios t;
    struct winsize ws = {0};
    ti->modes_len = 0;
    ti->cols = 80;
    ti->rows = 24;
    ti->xpixel = ti->ypixel = 0;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
        ti->cols = ws.ws_col;
        ti->rows = ws.ws_row;
        ti->xpixel = ws.ws_xpixel;
        ti->ypixel = ws.ws_ypixel;
    }
    if (tcgetattr(fd, &t) < 0) {
        ti->modes[0] = 0; /* TTY_OP_END */
        ti->modes_len = 1;
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < sizeof ccs / sizeof ccs[0]; i++) {
        cc_t c = t.c_cc[ccs[i].idx];
        off = put_mode(ti->modes, off, ccs[i].op, c == _POSIX_VDISABLE ? 255 : c);
    }
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        tcflag_t f = flags[i].field == 0   ? t.c_iflag
                     : flags[i].field == 1 ? t.c_lflag
                     : flags[i].field == 2 ? t.c_oflag
                                           : t.c_cflag;
        tcflag_t mask = flags[i].field == 3 && flags[i].bit == CS8 ? CSIZE : flags[i].bit;
        off = put_mode(ti->modes, off, flags[i].op, (f & mask) == flags[i].bit);
    }
    ti->modes[off++] = 0; /* TTY_OP_END */
    ti->modes_len = off;
    return 0;
}

void escape_init(struct escape *e, int ch)
{
    e->ch = ch;
    e->line_start = 1;
    e->pending = 0;
}

enum escape_action escape_filter(struct escape *e, const unsigned char *in, size_t n,
                                 unsigned char *out, size_t *outlen, size_t *used)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (e->pending) {
            e->pending = 0;
            if (c == '.') {
                *outlen = o;
                *used = n;
                return ESC_CLOSE;
            }
            if (c == '?') {
                e->line_start = 0;
                *outlen = o;
                *used = i + 1;
                return ESC_HELP;
            }
            if ((int)c != e->ch)
                out[o++] = (unsigned char)e->ch; /* not an escape: both bytes go through */
            out[o++] = c;
            e->line_start = c == '\r' || c == '\n';
            continue;
        }
        if (e->line_start && e->ch >= 0 && (int)c == e->ch) {
            e->pending = 1;
            continue;
        }
        out[o++] = c;
        e->line_start = c == '\r' || c == '\n';
    }
    *outlen = o;
    *used = n;
    return ESC_NONE;
}

void escape_help(int ch, char *out, size_t outlen)
{
    char c[8];
    if (ch < 32)
        snprintf(c, sizeof c, "^%c", ch + 64);
    else
        snprintf(c, sizeof c, "%c", ch);
    snprintf(out, outlen,
             "%s?\r\n"
             "Supported escape sequences:\r\n"
             " %s.   - terminate session\r\n"
             " %s?   - this message\r\n"
             " %s%s   - send the escape character by typing it twice\r\n"
             "(Note that escapes are only recognized immediately after newline.)\r\n",
             c, c, c, c, c);
}
