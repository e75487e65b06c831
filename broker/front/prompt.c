/* Questions a connect job asks the user, routed through the loop to a waiting muxssh. */
#include "prompt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "log.h"
#include "peer.h"
#include "proto.h"

void prompt_init(struct prompt *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
}

void prompt_destroy(struct prompt *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    explicit_bzero(p->answer, sizeof p->answer);
}

/* Worker: hand the question to the loop (through the job pipe) and wait for its end. */
static int handoff(struct job *j, const char *text, int echo, int say, char *answer,
                   size_t answerlen)
{
    struct prompt *p = &j->prompt;
    pthread_mutex_lock(&p->mu);
    snprintf(p->text, sizeof p->text, "%s", text);
    p->echo = echo;
    p->say = say;
    p->state = PR_WAITING;
    pthread_mutex_unlock(&p->mu);
    if (jobs_notify(j) < 0) {
        pthread_mutex_lock(&p->mu);
        p->state = PR_IDLE;
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    while (p->state == PR_WAITING)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = p->state == PR_ANSWERED ? 0 : -1;
    if (rc == 0 && answer)
        snprintf(answer, answerlen, "%s", p->answer);
    explicit_bzero(p->answer, sizeof p->answer);
    p->state = PR_IDLE;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int prompt_ask(void *job, const char *text, int echo, char *answer, size_t answerlen)
{
    return handoff(job, text, echo, 0, answer, answerlen);
}

int prompt_say(void *job, const char *text)
{
    return handoff(job, text, 0, 1, NULL, 0);
}

int prompt_pending(struct job *j)
{
    pthread_mutex_lock(&j->prompt.mu);
    int w = j->prompt.state == PR_WAITING;
    pthread_mutex_unlock(&j->prompt.mu);
    return w;
}

/* Loop: end the wait with state (PR_ANSWERED or PR_FAILED). */
static void settle(struct job *j, enum prompt_state state, const char *answer, size_t len)
{
    struct prompt *p = &j->prompt;
    if (p->asked && p->asked->prompt_job == j)
        p->asked->prompt_job = NULL;
    p->asked = NULL;
    pthread_mutex_lock(&p->mu);
    if (answer && len < sizeof p->answer) {
        memcpy(p->answer, answer, len);
        p->answer[len] = '\0';
    } else if (answer) {
        state = PR_FAILED; /* longer than any answer ssh would read */
    }
    p->state = state;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The client that asked for connection c first and can still be asked, or NULL; for a
 * jump host, a client waiting for a connection its tunnel carries. */
static struct peer *asker_of(const struct sshconn *c, int depth)
{
    struct peer *pick = NULL;
    /* Sessions are pushed at the head: the last one found is the oldest. */
    for (struct session *s = c ? c->sessions : NULL; s && depth < 16; s = s->next) {
        struct peer *p = s->peer;
        if (p && !reap_released(&p->reap) && !p->closing && !p->prompt_job)
            pick = p;
        else if (!p && s->tunnel_for) {
            struct peer *q = asker_of(s->tunnel_for, depth + 1);
            if (q)
                pick = q;
        }
    }
    return pick;
}

static struct peer *asker(struct job *j)
{
    return asker_of(j->conn, 0);
}

void prompt_route(struct job *j)
{
    static uint32_t next_id;
    struct prompt *p = &j->prompt;
    struct peer *to = asker(j);
    if (!to) {
        settle(j, PR_FAILED, NULL, 0);
        return;
    }
    if (p->say) {
        peer_send_message(to, p->text);
        settle(j, PR_ANSWERED, "", 0);
        return;
    }
    p->id = ++next_id;
    p->asked = to;
    to->prompt_job = j;
    struct proto_buf b;
    proto_begin(&b, MSG_PROMPT);
    proto_put_u32(&b, p->id);
    proto_put_u32(&b, (uint32_t)p->echo);
    proto_put_str(&b, p->text, (size_t)-1);
    peer_queue(to, &b);
    blog("asking client pid %d a question for %s", (int)to->pid, j->conn->cfg.hostname);
}

void prompt_reply(struct peer *p, uint32_t id, int ok, const char *answer, size_t len)
{
    struct job *j = p->prompt_job;
    if (!j || j->prompt.id != id)
        return; /* an answer to a question that went elsewhere: nothing waits for it */
    if (ok)
        settle(j, PR_ANSWERED, answer, len);
    else
        settle(j, PR_FAILED, NULL, 0);
}

void prompt_peer_gone(struct peer *p)
{
    struct job *j = p->prompt_job;
    if (!j)
        return;
    p->prompt_job = NULL;
    j->prompt.asked = NULL;
    blog("client pid %d left during a question; asking another", (int)p->pid);
    prompt_route(j);
}
