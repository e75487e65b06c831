/* Questions a job asks the user, routed through the loop to a waiting muxssh (prompt.h). */
#include "prompt.h"

#include "jobs.h"
#include "log.h"
#include "objects.h"
#include "peer.h"
#include "pool.h"
#include "proto.h"
#include "session.h"

/* Loop: end j's question with answer (NULL: none); asked, if any, answers no more. */
static void settle(struct job *j, struct peer *asked, const char *answer, size_t len)
{
    if (asked && asked->prompt_job == j)
        asked->prompt_job = NULL;
    jobs_answer(j, answer, len);
}

/* Can this client be asked a question now (session_asker)? */
static int can_ask(void *client)
{
    const struct peer *p = client;
    return !reap_released(&p->reap) && !p->closing && !p->prompt_job;
}

void prompt_route(struct job *j)
{
    static uint32_t next_id;
    const struct job_question *q = jobs_question(j);
    if (!q)
        return;
    const struct sshconn *c = pool_job_conn(j);
    struct peer *to = session_asker(c, can_ask);
    if (!to) {
        settle(j, NULL, NULL, 0);
        return;
    }
    if (q->say) {
        peer_send_message(to, q->text);
        settle(j, NULL, "", 0);
        return;
    }
    to->prompt_id = ++next_id;
    to->prompt_job = j;
    struct proto_buf b;
    proto_begin(&b, MSG_PROMPT);
    proto_put_u32(&b, to->prompt_id);
    proto_put_u32(&b, (uint32_t)q->echo);
    proto_put_str(&b, q->text, (size_t)-1);
    peer_queue(to, &b);
    blog("asking client pid %d a question for %s", (int)to->pid, c->cfg.hostname);
}

void prompt_reply(struct peer *p, uint32_t id, int ok, const char *answer, size_t len)
{
    struct job *j = p->prompt_job;
    if (!j || p->prompt_id != id)
        return; /* an answer to a question that went elsewhere: nothing waits for it */
    if (ok)
        settle(j, p, answer ? answer : "", answer ? len : 0);
    else
        settle(j, p, NULL, 0);
}

void prompt_peer_gone(struct peer *p)
{
    struct job *j = p->prompt_job;
    if (!j)
        return;
    p->prompt_job = NULL;
    blog("client pid %d left during a question; asking another", (int)p->pid);
    prompt_route(j);
}
