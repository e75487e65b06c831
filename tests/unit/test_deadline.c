/* deadline.c: the watchdog cuts the socket once the window passes, never while paused (the
 * user's time), and not at all when stopped in time; the banner wait and ssh's words. */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "deadline.h"

/* Is fd cut: does a read return the end at once? */
static int cut(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char b;
    return poll(&p, 1, 0) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

int main(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct deadline *d = deadline_start(sv[0], 200);
    CHECK(d != NULL, "deadline_start");
    usleep(50000);
    CHECK(!deadline_fired(d) && !cut(sv[0]), "cut before the window passed");
    deadline_pause(d, 1); /* the user is asked, for longer than the window */
    usleep(400000);
    CHECK(!deadline_fired(d) && !cut(sv[0]), "the user's time counted against the window");
    deadline_pause(d, 0);
    usleep(50000);
    CHECK(!deadline_fired(d), "the time before the pause was lost");
    long long t0 = clock_ms(CLOCK_MONOTONIC);
    while (!deadline_fired(d) && clock_ms(CLOCK_MONOTONIC) - t0 < 2000)
        usleep(10000);
    long long took = clock_ms(CLOCK_MONOTONIC) - t0;
    CHECK(deadline_fired(d) && cut(sv[0]), "not cut after the window");
    CHECK(took >= 50 && took < 1000, "cut %lld ms after the pause ended, want about 100", took);
    CHECK(deadline_stop(d) == 1, "deadline_stop says it fired");
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    d = deadline_start(sv[0], 100);
    CHECK(deadline_stop(d) == 0, "stopped in time, yet fired");
    usleep(200000);
    CHECK(!cut(sv[0]), "cut after deadline_stop");

    /* The banner wait: nothing (0), a partial line (0 at the end), a whole line (1). */
    t0 = clock_ms(CLOCK_MONOTONIC);
    CHECK(deadline_wait_banner(sv[0], 100) == 0, "no banner, yet waited it out");
    CHECK(clock_ms(CLOCK_MONOTONIC) - t0 >= 90, "the banner wait ended early");
    write(sv[1], "SSH-2.0-x", 9);
    CHECK(deadline_wait_banner(sv[0], 100) == 0, "a partial banner is not one");
    write(sv[1], "\r\n", 2);
    CHECK(deadline_wait_banner(sv[0], 100) == 1, "a whole banner not seen");
    close(sv[1]);
    close(sv[0]);

    /* ssh's words: a peer without an address is UNKNOWN port 65535; LogLevel decides. */
    char err[256];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    deadline_words(sv[0], 0, 3, err, sizeof err);
    CHECK(!strcmp(err, "Connection timed out during banner exchange\r\n"
                       "Connection to UNKNOWN port 65535 timed out"),
          "banner, INFO: %s", err);
    deadline_words(sv[0], 0, 2, err, sizeof err);
    CHECK(!strcmp(err, "Connection timed out during banner exchange"), "banner, ERROR: %s", err);
    deadline_words(sv[0], 1, 3, err, sizeof err);
    CHECK(!strcmp(err, "Connection to UNKNOWN port 65535 timed out"), "after, INFO: %s", err);
    deadline_words(sv[0], 1, 2, err, sizeof err);
    CHECK(!err[0], "after, ERROR (ssh prints nothing): %s", err);
    close(sv[0]);
    close(sv[1]);

    printf("deadline: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
