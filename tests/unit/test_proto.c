/* Wire protocol: round trips of every message type, and rejection of bad frames. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"

#include "check.h"

static int streq(const struct pstr *s, const char *want)
{
    return s->n == strlen(want) && memcmp(s->p, want, s->n) == 0;
}

static char *argv_a[] = {"-o", "SendEnv=GIT_PROTOCOL", "-p", "2222", NULL};
static char *env_a[] = {"HOME=/home/u", "LANG=C.UTF-8", "GIT_PROTOCOL=version=2", NULL};

/* Builds an OPEN frame like muxssh does. */
static void make_open(struct proto_buf *b)
{
    proto_begin(b, MSG_OPEN);
    proto_put_str(b, "/usr/bin/ssh", (size_t)-1);
    proto_put_str(b, "/tmp/repo", (size_t)-1);
    proto_put_strlist(b, argv_a, -1);
    proto_put_str(b, "git@example.org", (size_t)-1);
    proto_put_str(b, "git-upload-pack 'r.git'", (size_t)-1);
    proto_put_strlist(b, env_a, -1);
    proto_put_u32(b, OPEN_STDIN_TTY | OPEN_STDERR_TTY);
}

static void test_open_round_trip(void)
{
    struct proto_buf b;
    make_open(&b);
    CHECK(proto_end(&b) == 0, "encode OPEN");
    CHECK(proto_frame_len(b.data, b.len) == (long)b.len, "frame length of OPEN");
    struct proto_msg m;
    char err[256];
    int rc = proto_decode(b.data + PROTO_HDR, b.len - PROTO_HDR, &m, err, sizeof err);
    CHECK(rc == 0, "decode OPEN: %s", rc ? err : "");
    CHECK(m.type == MSG_OPEN, "type %u", m.type);
    CHECK(streq(&m.s[0], "/usr/bin/ssh") && streq(&m.s[1], "/tmp/repo"), "OPEN strings 0/1");
    CHECK(streq(&m.s[2], "git@example.org") && streq(&m.s[3], "git-upload-pack 'r.git'"),
          "OPEN strings 2/3");
    CHECK(m.u[0] == (OPEN_STDIN_TTY | OPEN_STDERR_TTY), "OPEN flags %u", m.u[0]);
    char **opts = proto_strlist_dup(&m.l[0]);
    char **env = proto_strlist_dup(&m.l[1]);
    CHECK(opts && opts[3] && !strcmp(opts[1], "SendEnv=GIT_PROTOCOL") && !strcmp(opts[3], "2222") &&
              !opts[4],
          "OPEN opts list");
    CHECK(env && env[2] && !strcmp(env[2], "GIT_PROTOCOL=version=2") && !env[3], "OPEN env list");
    proto_strv_free(opts);
    proto_strv_free(env);
    proto_buf_free(&b);
}

/* Every message type encodes and decodes to the same fields. */
static void test_all_types(void)
{
    for (unsigned t = 1; t <= MSG_TYPE_MAX; t++) {
        if (!strcmp(proto_type_name(t), "?")) { /* a number no message has (yet) */
            struct proto_msg m;
            char err[256];
            uint8_t body[] = {(uint8_t)t};
            CHECK(proto_decode(body, 1, &m, err, sizeof err) < 0, "type %u, unused, accepted", t);
            continue;
        }
        struct proto_buf b;
        proto_begin(&b, (uint8_t)t);
        /* Fill per schema the decoder expects, using a generic pattern. */
        switch (t) {
        case MSG_HELLO:
            proto_put_u32(&b, 1), proto_put_u32(&b, 42), proto_put_u32(&b, 0);
            break;
        case MSG_OPEN:
            proto_buf_free(&b);
            make_open(&b);
            break;
        case MSG_PROMPT:
        case MSG_PROMPT_REPLY:
        case MSG_EXIT:
        case MSG_FORWARDS:
            proto_put_u32(&b, 7), proto_put_u32(&b, 1), proto_put_str(&b, "text", (size_t)-1);
            break;
        case MSG_MESSAGE:
        case MSG_SIGNAL:
        case MSG_LOCAL_COMMAND:
        case MSG_CONTROL_OUT:
            proto_put_str(&b, "text", (size_t)-1);
            break;
        case MSG_LOCAL_DONE:
        case MSG_FORWARDS_DONE:
            proto_put_u32(&b, 3);
            break;
        case MSG_WINDOW_CHANGE:
            for (int i = 0; i < 4; i++)
                proto_put_u32(&b, (uint32_t)(80 + i));
            break;
        case MSG_CONTROL:
            proto_put_u32(&b, CTL_CHECK);
            proto_put_str(&b, "/usr/bin/ssh", (size_t)-1);
            proto_put_str(&b, "/", (size_t)-1);
            proto_put_strlist(&b, argv_a, -1);
            proto_put_str(&b, "host", (size_t)-1);
            proto_put_strlist(&b, env_a, -1);
            break;
        case MSG_STARTED:
            proto_put_u32(&b, STARTED_PTY);
            break;
        case MSG_ROUTE:
            proto_put_str(&b, "/usr/bin/ssh", (size_t)-1);
            proto_put_str(&b, "/", (size_t)-1);
            proto_put_str(&b, "bastion", (size_t)-1);
            proto_put_str(&b, "10.0.0.1", (size_t)-1);
            proto_put_u32(&b, 5432);
            proto_put_u32(&b, 2);
            proto_put_strlist(&b, env_a, -1);
            proto_put_strlist(&b, argv_a, -1);
            proto_put_u32(&b, 40000);
            proto_put_str(&b, "127.0.0.1", (size_t)-1);
            proto_put_u32(&b, 40001);
            break;
        case MSG_ROUTE_REPLY:
            proto_put_u32(&b, 0);
            break;
        case MSG_INCOMING:
            proto_put_u32(&b, 9), proto_put_u32(&b, INC_CONNECT), proto_put_u32(&b, 3 << 8);
            proto_put_str(&b, "127.0.0.1", (size_t)-1);
            proto_put_u32(&b, 8080);
            proto_put_str(&b, "127.0.0.1 40000", (size_t)-1);
            break;
        case MSG_INCOMING_REPLY:
            proto_put_u32(&b, 9), proto_put_u32(&b, 0);
            break;
        case MSG_HANDED:
            proto_put_str(&b, "/usr/bin/ssh", (size_t)-1);
            proto_put_str(&b, "/", (size_t)-1);
            proto_put_strlist(&b, argv_a, -1);
            proto_put_str(&b, "host", (size_t)-1);
            proto_put_str(&b, "-L", (size_t)-1);
            proto_put_strlist(&b, env_a, -1);
            break;
        case MSG_CONTROL_REPLY:
        case MSG_ERROR:
            proto_put_u32(&b, 1), proto_put_str(&b, "text", (size_t)-1);
            break;
        case MSG_X11_AUTH:
            proto_put_u32(&b, X11_TRUSTED), proto_put_u32(&b, 1200);
            proto_put_str(&b, "/usr/bin/xauth", (size_t)-1);
            break;
        case MSG_X11_AUTH_REPLY:
            proto_put_u32(&b, 1), proto_put_str(&b, "MIT-MAGIC-COOKIE-1", (size_t)-1);
            proto_put_str(&b, "00ff", (size_t)-1);
            break;
        }
        CHECK(proto_end(&b) == 0, "encode %s", proto_type_name(t));
        struct proto_msg m;
        char err[256];
        int rc = proto_decode(b.data + PROTO_HDR, b.len - PROTO_HDR, &m, err, sizeof err);
        CHECK(rc == 0 && m.type == t, "decode %s: %s", proto_type_name(t), rc ? err : "");
        if (t == MSG_INCOMING)
            CHECK(rc == 0 && m.u[0] == 9 && m.u[1] == INC_CONNECT && m.u[3] == 8080 &&
                      m.s[0].n == 9 && m.s[1].n == 15,
                  "INCOMING fields: id, kind, port, host, origin");
        if (t == MSG_HANDED)
            CHECK(rc == 0 && m.s[2].n == 4 && !memcmp(m.s[2].p, "host", 4) && m.s[3].n == 2 &&
                      !memcmp(m.s[3].p, "-L", 2) && m.l[0].count > 0 && m.l[1].count > 0,
                  "HANDED fields: dest, reason, opts, env");
        /* Every strict prefix of the body is rejected (truncation at each byte). */
        int bad = 0;
        for (size_t cut = 0; cut < b.len - PROTO_HDR; cut++)
            if (proto_decode(b.data + PROTO_HDR, cut, &m, err, sizeof err) == 0)
                bad++;
        CHECK(bad == 0, "%s: %d truncated bodies were accepted", proto_type_name(t), bad);
        /* A trailing byte is rejected. */
        uint8_t *longer = malloc(b.len + 1);
        memcpy(longer, b.data, b.len);
        longer[b.len] = 0;
        CHECK(proto_decode(longer + PROTO_HDR, b.len - PROTO_HDR + 1, &m, err, sizeof err) < 0,
              "%s with a trailing byte accepted", proto_type_name(t));
        free(longer);
        proto_buf_free(&b);
    }
}

static void test_rejects(void)
{
    struct proto_msg m;
    char err[256];
    uint8_t unknown[] = {0};
    CHECK(proto_decode(unknown, 1, &m, err, sizeof err) < 0, "type 0 accepted");
    uint8_t big[] = {MSG_TYPE_MAX + 1};
    CHECK(proto_decode(big, 1, &m, err, sizeof err) < 0 && strstr(err, "unknown"),
          "unknown type accepted or badly worded: %s", err);
    CHECK(proto_decode(big, 0, &m, err, sizeof err) < 0, "empty body accepted");
    /* A string whose length runs past the frame. */
    uint8_t runaway[] = {MSG_MESSAGE, 0, 0, 0, 200, 'a', 'b'};
    CHECK(proto_decode(runaway, sizeof runaway, &m, err, sizeof err) < 0, "runaway string");
    /* A string with an embedded NUL. */
    uint8_t nul[] = {MSG_MESSAGE, 0, 0, 0, 3, 'a', 0, 'b'};
    CHECK(proto_decode(nul, sizeof nul, &m, err, sizeof err) < 0, "NUL inside a string");
    /* A list announcing more items than allowed. */
    uint8_t list[] = {MSG_CONTROL, 0, 0, 0, 1,   0,    0,    0,    1,   '/',
                      0,           0, 0, 1, '/', 0xff, 0xff, 0xff, 0xff};
    CHECK(proto_decode(list, sizeof list, &m, err, sizeof err) < 0, "huge list count");
    /* A list whose items overrun. */
    uint8_t list2[] = {MSG_CONTROL, 0, 0,   0, 1, 0, 0, 0, 1, '/', 0, 0,
                       0,           1, '/', 0, 0, 0, 2, 0, 0, 0,   1, 'x'};
    CHECK(proto_decode(list2, sizeof list2, &m, err, sizeof err) < 0, "list items overrun");
    /* Frame headers: zero, oversized, incomplete. */
    uint8_t h0[] = {0, 0, 0, 0};
    CHECK(proto_frame_len(h0, 4) < 0, "zero-length frame accepted");
    uint8_t hbig[] = {0x7f, 0xff, 0xff, 0xff};
    CHECK(proto_frame_len(hbig, 4) < 0, "oversized frame accepted");
    uint8_t hpart[] = {0, 0, 0, 5, MSG_MESSAGE};
    CHECK(proto_frame_len(hpart, sizeof hpart) == 0, "incomplete frame not waited for");
    CHECK(proto_frame_len(hpart, 2) == 0, "incomplete header not waited for");
    /* Encoder refuses frames over the limit and strings with NUL. */
    struct proto_buf b;
    proto_begin(&b, MSG_MESSAGE);
    char *huge = malloc(PROTO_MAX_FRAME + 1);
    memset(huge, 'x', PROTO_MAX_FRAME);
    huge[PROTO_MAX_FRAME] = 0;
    proto_put_str(&b, huge, (size_t)-1);
    CHECK(proto_end(&b) < 0, "oversized frame encoded");
    proto_buf_free(&b);
    free(huge);
    proto_begin(&b, MSG_MESSAGE);
    proto_put_str(&b, "a\0b", 3);
    CHECK(proto_end(&b) < 0, "string with NUL encoded");
    proto_buf_free(&b);
}

static void test_send_recv_fds(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    int devnull = open("/dev/null", O_RDONLY);
    int fds[3] = {devnull, 1, 2};
    struct proto_buf b;
    make_open(&b);
    proto_end(&b);
    CHECK(proto_send(sv[0], &b, fds, 3) == 0, "send with fds");
    uint8_t *body;
    int got[4], ngot = 0;
    char err[256];
    long n = proto_recv(sv[1], &body, got, 4, &ngot, err, sizeof err);
    CHECK(n == (long)(b.len - PROTO_HDR), "recv length %ld", n);
    CHECK(ngot == 3, "received %d fds", ngot);
    struct stat a, c;
    if (ngot == 3) {
        CHECK(fstat(got[0], &a) == 0 && fstat(devnull, &c) == 0 && a.st_ino == c.st_ino,
              "fd 0 is the same file");
        for (int i = 0; i < ngot; i++)
            close(got[i]);
    }
    struct proto_msg m;
    CHECK(n > 0 && proto_decode(body, (size_t)n, &m, err, sizeof err) == 0, "decode received");
    free(body);
    /* EOF before a frame → 0; EOF in the middle → -1. */
    uint8_t half[] = {0, 0, 0, 10, MSG_MESSAGE};
    CHECK(write(sv[0], half, sizeof half) == (ssize_t)sizeof half, "write half frame");
    close(sv[0]);
    n = proto_recv(sv[1], &body, got, 4, &ngot, err, sizeof err);
    CHECK(n == -1 && body == NULL, "truncated frame on EOF gives %ld", n);
    close(sv[1]);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    close(sv[0]);
    n = proto_recv(sv[1], &body, got, 4, &ngot, err, sizeof err);
    CHECK(n == 0, "clean EOF gives %ld", n);
    close(sv[1]);
    close(devnull);
    proto_buf_free(&b);
}

/* The heap-free entry points the shim uses: a frame in the caller's buffer, read back into
 * one; the same bytes as the heap encoder, the same reasons for bad frames. */
static void test_into_buffers(void)
{
    uint8_t buf[64], heap_copy[64];
    struct proto_buf b, h;
    proto_begin(&h, MSG_PROMPT_REPLY);
    proto_put_u32(&h, 7);
    proto_put_u32(&h, 1);
    proto_put_str(&h, "answer", (size_t)-1);
    CHECK(proto_end(&h) == 0 && h.len <= sizeof heap_copy, "heap PROMPT_REPLY");
    memcpy(heap_copy, h.data, h.len);
    proto_begin_into(&b, MSG_PROMPT_REPLY, buf, sizeof buf);
    proto_put_u32(&b, 7);
    proto_put_u32(&b, 1);
    proto_put_str(&b, "answer", (size_t)-1);
    CHECK(proto_end(&b) == 0 && b.len == h.len && !memcmp(buf, heap_copy, h.len),
          "the caller's buffer holds the heap encoder's bytes");
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    int devnull = open("/dev/null", O_RDONLY);
    CHECK(proto_send(sv[0], &b, &devnull, 1) == 0, "send from the caller's buffer");
    uint8_t in[64];
    int fd = -1, nfd = 0;
    long n = proto_recv_into(sv[1], in, sizeof in, &fd, 1, &nfd);
    struct proto_msg m;
    char err[256];
    CHECK(n == (long)(h.len - PROTO_HDR) && nfd == 1 && fd >= 0, "recv_into %ld, %d fds", n, nfd);
    CHECK(n > 0 && proto_decode(in, (size_t)n, &m, err, sizeof err) == 0 && m.u[0] == 7 &&
              streq(&m.s[0], "answer"),
          "decode what recv_into read");
    if (fd >= 0)
        close(fd);
    proto_buf_free(&b);
    CHECK(buf[PROTO_HDR + 9] == 0, "proto_buf_free wipes the caller's buffer");
    /* A frame over the caller's buffer: EMSGSIZE, nothing read past the header. */
    CHECK(proto_send(sv[0], &h, NULL, 0) == 0, "send again");
    n = proto_recv_into(sv[1], in, 8, &fd, 1, &nfd);
    CHECK(n == -1 && errno == EMSGSIZE, "frame over cap gives %ld", n);
    close(sv[0]);
    close(sv[1]);
    close(devnull);
    proto_buf_free(&h);
    /* Out of room in the caller's buffer: the frame is refused, never written past. */
    uint8_t small[12] = {0};
    proto_begin_into(&b, MSG_MESSAGE, small, 10);
    proto_put_str(&b, "too long for ten bytes", (size_t)-1);
    CHECK(proto_end(&b) < 0 && small[10] == 0 && small[11] == 0, "overflow refused");
    /* The decoder's reasons, word for word. */
    uint8_t unknown[] = {200};
    proto_decode(unknown, 1, &m, err, sizeof err);
    CHECK(!strcmp(err, "unknown message type 200"), "reason: %s", err);
    uint8_t trailing[] = {MSG_STARTED, 0, 0, 0, 1, 9, 9};
    proto_decode(trailing, sizeof trailing, &m, err, sizeof err);
    CHECK(!strcmp(err, "STARTED: 2 trailing bytes"), "reason: %s", err);
    uint8_t cut[] = {MSG_EXIT, 0, 0};
    proto_decode(cut, sizeof cut, &m, err, sizeof err);
    CHECK(!strcmp(err, "EXIT: truncated or malformed field"), "reason: %s", err);
    uint8_t list[] = {MSG_CONTROL, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    proto_decode(list, sizeof list, &m, err, sizeof err);
    CHECK(!strcmp(err, "CONTROL: list of 65536 items is over the limit"), "reason: %s", err);
    proto_decode(unknown, 0, &m, err, sizeof err);
    CHECK(!strcmp(err, "bad frame size 0"), "reason: %s", err);
    char tiny[6];
    proto_decode(unknown, 1, &m, tiny, sizeof tiny);
    CHECK(!strcmp(tiny, "unkno"), "a short err is cut, terminated: %s", tiny);
}

/* Every type's fields fit struct proto_msg: a str, u32 or strlist past its array was written
 * over the next field (ROUTE's fifth str, to_addr, over its env list). */
static void test_schema_fits(void)
{
    struct proto_msg m;
    for (unsigned t = 1; t <= MSG_TYPE_MAX; t++) {
        int nu = 0, ns = 0, nl = 0;
        for (const char *f = proto_schema(t); f && *f; f++)
            *f == 'u' ? nu++ : *f == 's' ? ns++ : nl++;
        CHECK(nu <= (int)(sizeof m.u / sizeof m.u[0]) && ns <= (int)(sizeof m.s / sizeof m.s[0]) &&
                  nl <= (int)(sizeof m.l / sizeof m.l[0]),
              "%s's fields fit a proto_msg (%d u32, %d str, %d strlist)", proto_type_name(t), nu,
              ns, nl);
    }
    /* ROUTE: its env list is intact after the to_addr that follows it */
    struct proto_buf b;
    char *env[] = {"HOME=/root", "PATH=/usr/bin", NULL}, *opts[] = {"-F", "cfg", NULL};
    proto_begin(&b, MSG_ROUTE);
    proto_put_str(&b, "/usr/bin/ssh", (size_t)-1), proto_put_str(&b, "/", (size_t)-1);
    proto_put_str(&b, "bastion", (size_t)-1), proto_put_str(&b, "10.0.0.1", (size_t)-1);
    proto_put_u32(&b, 8080), proto_put_u32(&b, 2);
    proto_put_strlist(&b, env, -1), proto_put_strlist(&b, opts, -1);
    proto_put_u32(&b, 40000), proto_put_str(&b, "127.0.0.1", (size_t)-1), proto_put_u32(&b, 41000);
    char err[256] = "";
    CHECK(proto_end(&b) == 0 &&
              proto_decode(b.data + PROTO_HDR, b.len - PROTO_HDR, &m, err, sizeof err) == 0,
          "ROUTE decodes: %s", err);
    char **e = proto_strlist_dup(&m.l[0]);
    CHECK(m.l[0].count == 2 && e && e[0] && !strcmp(e[0], "HOME=/root") && e[1] &&
              !strcmp(e[1], "PATH=/usr/bin") && !e[2] && m.s[4].n == 9 &&
              !memcmp(m.s[4].p, "127.0.0.1", 9) && m.u[3] == 41000,
          "ROUTE's env list and to_addr are both intact");
    proto_strv_free(e);
    proto_buf_free(&b);
}

int main(void)
{
    test_schema_fits();
    test_open_round_trip();
    test_all_types();
    test_rejects();
    test_send_recv_fds();
    test_into_buffers();
    printf("proto: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
