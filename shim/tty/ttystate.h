/* muxssh's changes to the user's terminal, always undone: echo off for a question, raw mode
 * for a terminal session. */
#ifndef MUXSHIM_TTYSTATE_H
#define MUXSHIM_TTYSTATE_H

/* Save fd's settings (once) and clear ECHO for a hidden answer; 0 or -1. */
int tty_echo_off(int fd);
/* Save fd's settings (once) and put it in raw mode as ssh does for a pty session; 0 or -1. */
int tty_raw(int fd);
/* Put back the saved settings, if any were changed (async-signal-safe). */
void tty_restore(void);

#endif
