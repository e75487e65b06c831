/* Questions a job's worker asks the user (jobs.h's jobs_ask, jobs_say: a connect job's
 * passwords and host key confirmations), routed by the loop: sent as PROMPT to a muxssh
 * waiting for that connection, answered with PROMPT_REPLY. */
#ifndef MUXSHIM_PROMPT_H
#define MUXSHIM_PROMPT_H

#include <stddef.h>
#include <stdint.h>

struct job;
struct peer;

/* Loop: send the question j waits on to a client waiting for its connection, or fail it
 * (jobs_finish's asked). */
void prompt_route(struct job *j);
/* Loop: a PROMPT_REPLY arrived from p (the answer is wiped by the caller). */
void prompt_reply(struct peer *p, uint32_t id, int ok, const char *answer, size_t len);
/* Loop: p is going away; its question goes to another waiting client, or fails. */
void prompt_peer_gone(struct peer *p);

#endif
