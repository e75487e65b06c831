/* muxssh asking its user what the broker needs (password, code, passphrase, host key),
 * the way ssh's read_passphrase does: /dev/tty, or SSH_ASKPASS. */
#ifndef MUXSHIM_ASK_H
#define MUXSHIM_ASK_H

#include <stddef.h>

/* Ask prompt (echo: show the answer as typed); 0 and the answer without its newline, or -1
 * when nobody can be asked (no terminal and no usable askpass) or the askpass failed. */
int ask_user(const char *prompt, int echo, char *answer, size_t answerlen);

#endif
