/* Questions a connect job asks the user: handed from the worker to the loop, sent as PROMPT
 * to a muxssh waiting for that connection, answered with PROMPT_REPLY. */
#ifndef MUXSHIM_PROMPT_H
#define MUXSHIM_PROMPT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "objects.h"

#define PROMPT_TEXT 2048
#define PROMPT_ANSWER 1024

enum prompt_state { PR_IDLE, PR_WAITING, PR_ANSWERED, PR_FAILED };

/* One outstanding question of one job (a job asks one thing at a time). */
struct prompt {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum prompt_state state;
    int echo;    /* 1: the answer may be shown as it is typed */
    int say;     /* 1: text only, for the client's stderr; no answer */
    uint32_t id; /* of the PROMPT frame now out */
    char text[PROMPT_TEXT];
    char answer[PROMPT_ANSWER];
    struct peer *asked; /* loop only: the peer the question went to */
};

struct job;

/* Initialise p (before the job's thread starts). */
void prompt_init(struct prompt *p);
/* Release p's mutex and condition (after the job is done). */
void prompt_destroy(struct prompt *p);
/* Worker: ask the user through the loop and wait; 0 and the answer, or -1 if nobody could
 * answer. Fits struct conn_prompter's ask (ctx is the job). */
int prompt_ask(void *job, const char *text, int echo, char *answer, size_t answerlen);
/* Worker: show text on the asking client's stderr (for example "Permission denied, please
 * try again."); returns 0, or -1 if no client can see it. */
int prompt_say(void *job, const char *text);
/* Loop: is this job waiting for a question to be routed (rather than finished)? */
int prompt_pending(struct job *j);
/* Loop: send the job's question to a client waiting for its connection, or fail it. */
void prompt_route(struct job *j);
/* Loop: a PROMPT_REPLY arrived from p (the answer is wiped by the caller). */
void prompt_reply(struct peer *p, uint32_t id, int ok, const char *answer, size_t len);
/* Loop: p is going away; its question goes to another waiting client, or fails. */
void prompt_peer_gone(struct peer *p);

#endif
