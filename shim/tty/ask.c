/* Asking the user: /dev/tty with echo as the server says, or SSH_ASKPASS, as ssh does. */
#include "ask.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ttystate.h"

#define ASKPASS_DEFAULT "/usr/bin/ssh-askpass"

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Read one line from fd into answer (no newline); 0, or -1 on EOF before anything. */
static int read_line(int fd, char *answer, size_t answerlen, int stop_at_cr)
{
    size_t n = 0;
    int got = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got = 1;
        if (c == '\n' || (stop_at_cr && c == '\r'))
            break;
        if (n + 1 < answerlen)
            answer[n++] = c;
    }
    answer[n] = '\0';
    return got ? 0 : -1;
}

/* Run the askpass program with the prompt as its argument; its stdout is the answer. */
static int run_askpass(const char *prog, const char *prompt, char *answer, size_t answerlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    /* _Fork, not fork: no atfork handlers and no libc locks taken, so it is safe in the
     * shim's route helper (a copy of a program whose other threads may have held them). */
    pid_t pid = _Fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        if (dup2(p[1], 1) < 0)
            _exit(1);
        execlp(prog, prog, prompt, (char *)NULL);
        _exit(1);
    }
    close(p[1]);
    int rc = read_line(p[0], answer, answerlen, 0);
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        explicit_bzero(answer, answerlen);
        return -1;
    }
    if (rc < 0)
        answer[0] = '\0'; /* an empty answer is still an answer */
    answer[strcspn(answer, "\r\n")] = '\0';
    return 0;
}

static int ask_tty(int fd, const char *prompt, int echo, char *answer, size_t answerlen)
{
    write_all(fd, "\r", 1); /* as ssh: the prompt starts the line */
    int hidden = !echo && tty_echo_off(fd) == 0;
    write_all(fd, prompt, strlen(prompt));
    int rc = read_line(fd, answer, answerlen, 1);
    if (hidden) {
        tty_restore();
        write_all(fd, "\n", 1);
    }
    return rc;
}

int ask_user(const char *prompt, int echo, char *answer, size_t answerlen)
{
    int use_askpass = 0, allow_askpass = 0;
    const char *s = getenv("DISPLAY");
    if (s)
        allow_askpass = *s != '\0';
    if ((s = getenv("SSH_ASKPASS_REQUIRE")) != NULL) {
        if (!strcasecmp(s, "force"))
            use_askpass = allow_askpass = 1;
        else if (!strcasecmp(s, "prefer"))
            use_askpass = allow_askpass;
        else if (!strcasecmp(s, "never"))
            allow_askpass = 0;
    }
    int fd = -1;
    if (!use_askpass) {
        fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            use_askpass = 1;
    }
    if (fd >= 0) {
        int rc = ask_tty(fd, prompt, echo, answer, answerlen);
        close(fd);
        return rc;
    }
    if (!allow_askpass)
        return -1;
    const char *prog = getenv("SSH_ASKPASS");
    return run_askpass(prog && *prog ? prog : ASKPASS_DEFAULT, prompt, answer, answerlen);
}
