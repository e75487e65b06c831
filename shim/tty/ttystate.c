/* muxssh's changes to the user's terminal, and putting them back on every exit path. */
#include "ttystate.h"

#include <termios.h>
#include <unistd.h>

static volatile int saved_fd = -1;
static struct termios saved;

/* Change fd's settings with edit, after saving the original ones. */
static int change(int fd, void (*edit)(struct termios *))
{
    struct termios t;
    if (tcgetattr(fd, &t) < 0)
        return -1;
    if (saved_fd < 0) {
        saved = t;
        saved_fd = fd;
    }
    edit(&t);
    return tcsetattr(fd, TCSADRAIN, &t);
}

static void echo_off(struct termios *t)
{
    t->c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    t->c_lflag |= ICANON;
}

/* The changes of ssh's enter_raw_mode. */
static void raw(struct termios *t)
{
    t->c_iflag |= IGNPAR;
    t->c_iflag &= ~(tcflag_t)(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF | IUCLC);
    t->c_lflag &= ~(tcflag_t)(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN);
    t->c_oflag &= ~(tcflag_t)OPOST;
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

int tty_echo_off(int fd)
{
    return change(fd, echo_off);
}

int tty_raw(int fd)
{
    return change(fd, raw);
}

void tty_restore(void)
{
    int fd = saved_fd;
    if (fd < 0)
        return;
    tcsetattr(fd, TCSADRAIN, &saved);
    saved_fd = -1;
}
