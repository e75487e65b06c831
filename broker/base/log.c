/* muxbroker's diagnostics: one line each, to its log file (its stderr). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

void blog(const char *fmt, ...)
{
    char line[1024];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n = snprintf(line, sizeof line, "muxbroker[%d] %02d:%02d:%02d: ", (int)getpid(), tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = 0;
    while (len < sizeof line - 2 && line[len])
        len++;
    line[len++] = '\n';
    /* One write per line; a full disk or closed log just loses the line. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
