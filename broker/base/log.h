/* muxbroker's diagnostics: one line each, to its log file (its stderr). */
#ifndef MUXSHIM_LOG_H
#define MUXSHIM_LOG_H

/* Write "muxbroker[pid] time: message" to the log; never fails loudly (full disk is ignored). */
void blog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
