/* Escape sequences on typed bytes (term.c), and the pty modes read from a real pty. */
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "term.h"

/* Feed the chunks (NUL-separated, ending with an empty one) to one escape state and
 * collect what goes to the server; returns the first action other than ESC_NONE. */
static enum escape_action feed(int ch, const char *const *chunks, char *out, size_t outcap)
{
    struct escape e;
    escape_init(&e, ch);
    size_t o = 0;
    for (int i = 0; chunks[i]; i++) {
        const unsigned char *in = (const unsigned char *)chunks[i];
        size_t n = strlen(chunks[i]), off = 0;
        while (off < n) {
            unsigned char buf[256];
            size_t len = 0, used = 0;
            enum escape_action a = escape_filter(&e, in + off, n - off, buf, &len, &used);
            if (o + len < outcap) {
                memcpy(out + o, buf, len);
                o += len;
            }
            off += used;
            out[o] = '\0';
            if (a == ESC_CLOSE)
                return a;
            if (a == ESC_HELP) {
                memcpy(out + o, "<help>", 7);
                o += 6;
            }
        }
    }
    out[o] = '\0';
    return ESC_NONE;
}

static void test_escapes(void)
{
    char out[512];
    const char *a[] = {"ls\r", "~.", "rest", NULL};
    CHECK(feed('~', a, out, sizeof out) == ESC_CLOSE && !strcmp(out, "ls\r"), "~. after CR: %s",
          out);
    const char *b[] = {"~.", NULL};
    CHECK(feed('~', b, out, sizeof out) == ESC_CLOSE && !out[0], "~. first thing typed");
    const char *c[] = {"echo a~.b\r", NULL};
    CHECK(feed('~', c, out, sizeof out) == ESC_NONE && !strcmp(out, "echo a~.b\r"),
          "~ inside a line is data: %s", out);
    const char *d[] = {"\n~~x", NULL};
    CHECK(feed('~', d, out, sizeof out) == ESC_NONE && !strcmp(out, "\n~x"), "~~ sends one ~: %s",
          out);
    const char *e[] = {"~x", NULL};
    CHECK(feed('~', e, out, sizeof out) == ESC_NONE && !strcmp(out, "~x"),
          "~ and another byte both go: %s", out);
    const char *f[] = {"\r~", ".", NULL};
    CHECK(feed('~', f, out, sizeof out) == ESC_CLOSE && !strcmp(out, "\r"),
          "~ and . in two reads: %s", out);
    const char *g[] = {"~?ab", NULL};
    CHECK(feed('~', g, out, sizeof out) == ESC_NONE && !strcmp(out, "<help>ab"),
          "~? shows help, the rest goes on: %s", out);
    const char *h[] = {"~.", NULL};
    CHECK(feed(-1, h, out, sizeof out) == ESC_NONE && !strcmp(out, "~."), "EscapeChar none: %s",
          out);
    const char *k[] = {"\r%.", NULL};
    CHECK(feed('%', k, out, sizeof out) == ESC_CLOSE && !strcmp(out, "\r"), "-e %%: %s", out);
    char help[1024];
    escape_help('~', help, sizeof help);
    CHECK(strstr(help, " ~.   - terminate session\r\n") != NULL, "help text: %s", help);
}

/* Decode one mode's value from the RFC 4254 encoding; -1 if absent. */
static long mode_value(const struct term_info *ti, unsigned char op)
{
    for (size_t i = 0; i + 5 <= ti->modes_len; i += 5) {
        if (ti->modes[i] == 0)
            break;
        if (ti->modes[i] == op)
            return (long)((unsigned long)ti->modes[i + 1] << 24 | ti->modes[i + 2] << 16 |
                          ti->modes[i + 3] << 8 | ti->modes[i + 4]);
    }
    return -1;
}

static void test_modes(void)
{
    int master, slave;
    struct winsize ws = {.ws_row = 33, .ws_col = 101};
    if (openpty(&master, &slave, NULL, NULL, &ws) < 0) {
        CHECK(0, "openpty");
        return;
    }
    struct termios t;
    tcgetattr(slave, &t);
    t.c_lflag |= ECHO | ICANON;
    t.c_cc[VINTR] = 3;
    tcsetattr(slave, TCSANOW, &t);
    struct term_info ti;
    CHECK(term_read(slave, &ti) == 0, "term_read on a pty");
    CHECK(ti.cols == 101 && ti.rows == 33, "size %ux%u", ti.cols, ti.rows);
    CHECK(ti.modes_len > 1 && ti.modes_len <= TERM_MODES_MAX - 32 &&
              ti.modes[ti.modes_len - 1] == 0,
          "modes end with TTY_OP_END and leave room for TERM: %zu", ti.modes_len);
    CHECK(mode_value(&ti, 1) == 3 && mode_value(&ti, 53) == 1 && mode_value(&ti, 51) == 1,
          "VINTR ^C, ECHO and ICANON on");
    t.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(slave, TCSANOW, &t);
    term_read(slave, &ti);
    CHECK(mode_value(&ti, 53) == 0, "ECHO off read as 0");
    CHECK(term_read(-1, &ti) == -1 && ti.cols == 80 && ti.rows == 24 && ti.modes_len == 1,
          "no terminal: 80x24 and no modes");
    close(slave);
    close(master);
}

int main(void)
{
    test_escapes();
    test_modes();
    printf("term: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
