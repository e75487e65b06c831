/* The generic worker module (broker/jobs): a job's run in a worker thread, then its done and
 * free on the loop, in that order; questions a worker asks through the loop; no job once the
 * loop has ended. Links jobs/ and base/ only. */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jobs.h"

/* A kind of job for the test: what happened to it, in order. */
struct test_job {
    struct job job;
    pthread_t loop; /* the thread that started it */
    int in_worker;  /* run ran in another thread */
    char steps[8];  /* 'r'un, 'd'one, 'f'ree, as they came */
    int nsteps;
    const char *ask; /* a question run asks, if any ... */
    int say;         /* ... as text only (jobs_say) */
    int asked_rc;    /* ... and what jobs_ask or jobs_say returned */
    char answer[64];
};

static int freed;          /* test jobs freed */
static char last_steps[8]; /* of the job freed last */

static void test_run(struct job *job)
{
    struct test_job *t = JOB_OF(job, struct test_job);
    t->in_worker = !pthread_equal(pthread_self(), t->loop);
    t->steps[t->nsteps++] = 'r';
    if (t->ask && t->say)
        t->asked_rc = jobs_say(job, t->ask);
    else if (t->ask)
        t->asked_rc = jobs_ask(job, t->ask, 1, t->answer, sizeof t->answer);
}

static void test_done(struct job *job)
{
    struct test_job *t = JOB_OF(job, struct test_job);
    t->steps[t->nsteps++] = 'd';
}

static void test_free(struct job *job)
{
    struct test_job *t = JOB_OF(job, struct test_job);
    t->steps[t->nsteps++] = 'f';
    memcpy(last_steps, t->steps, sizeof last_steps);
    freed++;
    free(t);
}

static const struct job_ops test_ops = {.run = test_run, .done = test_done, .free = test_free};

/* What the loop answers the next question with (NULL: no answer), and what it was asked. */
static const char *reply;
static size_t reply_len;
static char heard[JOB_QUESTION];
static int heard_echo, heard_say, questions;

static void asked(struct job *j)
{
    const struct job_question *q = jobs_question(j);
    questions++;
    snprintf(heard, sizeof heard, "%s", q ? q->text : "(none)");
    heard_echo = q ? q->echo : -1;
    heard_say = q ? q->say : -1;
    jobs_answer(j, reply, reply_len);
}

static struct test_job *new_job(void)
{
    struct test_job *t = calloc(1, sizeof *t);
    t->loop = pthread_self();
    return t;
}

/* The loop's side: wait on the pipe and finish jobs until n more have been freed. */
static void finish(int n)
{
    int want = freed + n;
    while (freed < want) {
        struct pollfd p = {.fd = jobs_fd(), .events = POLLIN};
        if (poll(&p, 1, -1) < 0)
            break;
        jobs_finish(asked);
    }
}

static void test_order(void)
{
    struct test_job *t = new_job();
    CHECK(jobs_start(&t->job, &test_ops) == 0, "a job starts");
    CHECK(jobs_running() == 1, "one job running: %d", jobs_running());
    finish(1);
    CHECK(!strcmp(last_steps, "rdf"), "run, done, free in that order: %s", last_steps);
    CHECK(jobs_running() == 0, "no job running: %d", jobs_running());
    CHECK(questions == 0, "nothing asked");
}

/* A question answered, not answered, too long an answer, text only. Each job's result is
 * seen in its done (run's outcome), so the checks read the job before it is freed. */
static struct test_job *seen;
static void seen_done(struct job *job)
{
    struct test_job *t = JOB_OF(job, struct test_job);
    test_done(job);
    seen = malloc(sizeof *seen);
    memcpy(seen, t, sizeof *seen);
}
static const struct job_ops seen_ops = {.run = test_run, .done = seen_done, .free = test_free};

static struct test_job *ask(const char *text, int say, const char *answer, size_t len)
{
    struct test_job *t = new_job();
    t->ask = text;
    t->say = say;
    reply = answer;
    reply_len = len;
    free(seen);
    seen = NULL;
    if (jobs_start(&t->job, &seen_ops) < 0)
        return NULL;
    finish(1);
    return seen;
}

static void test_questions(void)
{
    int q0 = questions;
    struct test_job *s = ask("Password: ", 0, "hunter2", 7);
    CHECK(s && questions == q0 + 1, "asked once");
    CHECK(!strcmp(heard, "Password: ") && heard_echo == 1 && heard_say == 0,
          "the loop heard the question: '%s' echo %d say %d", heard, heard_echo, heard_say);
    CHECK(s && s->asked_rc == 0 && !strcmp(s->answer, "hunter2"), "answered: %d '%s'",
          s ? s->asked_rc : -9, s ? s->answer : "");
    CHECK(s && !strcmp(s->steps, "rd"), "the question did not finish the job: %s",
          s ? s->steps : "");

    s = ask("Password: ", 0, NULL, 0);
    CHECK(s && s->asked_rc == -1, "no answer: %d", s ? s->asked_rc : -9);

    char big[JOB_ANSWER + 1];
    memset(big, 'x', sizeof big);
    s = ask("Password: ", 0, big, sizeof big);
    CHECK(s && s->asked_rc == -1, "an answer longer than JOB_ANSWER is none: %d",
          s ? s->asked_rc : -9);

    s = ask("Permission denied, please try again.\r\n", 1, "", 0);
    CHECK(s && s->asked_rc == 0 && heard_say == 1, "said: %d say %d", s ? s->asked_rc : -9,
          heard_say);
    CHECK(jobs_running() == 0, "no job running after the questions: %d", jobs_running());
    free(seen);
    seen = NULL;
}

static void test_stop(void)
{
    CHECK(!jobs_stopped(), "not stopped yet");
    /* A job that finished after the loop's last look: jobs_stop frees it, without done. */
    struct test_job *late = new_job();
    int f0 = freed;
    CHECK(jobs_start(&late->job, &test_ops) == 0, "a last job starts");
    struct pollfd p = {.fd = jobs_fd(), .events = POLLIN};
    CHECK(poll(&p, 1, 10000) == 1, "its worker handed it back");
    jobs_stop();
    CHECK(jobs_stopped(), "stopped");
    CHECK(freed == f0 + 1 && !strcmp(last_steps, "rf") && jobs_running() == 0,
          "the job left in the pipe is freed without its done: %s, running %d", last_steps,
          jobs_running());
    struct test_job *t = new_job();
    CHECK(jobs_start(&t->job, &test_ops) < 0, "no job starts once the loop has ended");
    CHECK(t->nsteps == 0 && jobs_running() == 0, "the job is untouched and not counted");
    test_free(&t->job); /* still ours: its one destructor */
}

int main(void)
{
    if (jobs_init() < 0) {
        printf("jobs: no pipe\n");
        return 1;
    }
    test_order();
    test_questions();
    test_stop();
    printf("jobs: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
