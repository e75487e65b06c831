/* Slow or blocking work in worker threads, completed on the loop (as tmux's job_run): a job
 * runs in its own thread, then the loop calls its done and free callbacks. Each kind of job
 * (ssh -G, connection set-up, goodbyes, known_hosts appends, KEM key pairs) is defined next
 * to its user; this module knows none of them. A worker may also ask the user a question
 * through the loop and wait for the answer (jobs_ask); the loop routes it (jobs_finish). */
#ifndef MUXSHIM_JOBS_H
#define MUXSHIM_JOBS_H

#include <pthread.h>
#include <stddef.h>

#define JOB_QUESTION 2048 /* the longest question a job asks, with its NUL */
#define JOB_ANSWER 1024   /* the longest answer it takes, with its NUL */

struct job;

/* A kind of job: one static table next to its user. */
struct job_ops {
    /* In the worker thread: the slow part. Touches only the job's own data (and what its
     * kind says the loop leaves alone meanwhile). */
    void (*run)(struct job *j);
    /* On the loop once run has returned, or NULL: use the result. */
    void (*done)(struct job *j);
    /* The kind's one destructor: on the loop after done, or by whoever made a job that
     * never started. */
    void (*free)(struct job *j);
};

/* A question a worker asks the user through the loop (jobs_ask, jobs_say). */
struct job_question {
    char text[JOB_QUESTION];
    int echo; /* 1: the answer may be shown as it is typed */
    int say;  /* 1: text only, for the user's stderr; no answer */
};

/* One job: a member of its kind's own struct (JOB_OF gets that back in the callbacks). The
 * fields are jobs.c's. */
struct job {
    const struct job_ops *ops;
    pthread_mutex_t mu; /* the question: asked by the worker, answered by the loop */
    pthread_cond_t cv;
    int state; /* of the question (jobs.c) */
    struct job_question q;
    char answer[JOB_ANSWER];
};

/* The struct of type (with member job) that job pointer p is in. */
#define JOB_OF(p, type) ((type *)(void *)((char *)(p)-offsetof(type, job)))

/* Create the completion pipe. Returns 0 or -1. */
int jobs_init(void);
/* The read end of the completion pipe, for the loop's poll (readable: call jobs_finish). */
int jobs_fd(void);
/* Run j (a kind's job, its data filled) with ops in a new detached thread; 0, or -1 when no
 * thread starts or the loop has ended (jobs_stop): then j is untouched, still the caller's,
 * and the caller does the work inline or gives up. */
int jobs_start(struct job *j, const struct job_ops *ops);
/* Loop: take every job the pipe holds. A finished one gets its done then its free callback;
 * one whose worker waits on a question (jobs_question) is given to asked, which must end
 * the wait with jobs_answer, at once or later. */
void jobs_finish(void (*asked)(struct job *j));
/* Jobs started and not yet finished (questions do not count as finished). */
int jobs_running(void);
/* The loop has ended: from now on no job starts (jobs_start fails); the finished jobs the
 * loop did not take are freed (without their done). */
void jobs_stop(void);
/* Whether jobs_stop was called: work that would have been a job is done inline, and may
 * then block, as nothing waits on the loop any more. */
int jobs_stopped(void);

/* Worker: ask the user text through the loop and wait; 0 and the answer (NUL-terminated, at
 * most answerlen), or -1 if nobody could answer. Fits struct conn_prompter's ask (conn.h),
 * with the job as its ctx. */
int jobs_ask(void *job, const char *text, int echo, char *answer, size_t answerlen);
/* Worker: show text on the user's stderr through the loop; 0, or -1 if nobody saw it. Fits
 * struct conn_prompter's say. */
int jobs_say(void *job, const char *text);
/* Loop: the question j's worker waits on, or NULL when it waits on none. */
const struct job_question *jobs_question(struct job *j);
/* Loop: end the wait of j's question with answer (len bytes; "" for a say), or with no
 * answer when answer is NULL or longer than JOB_ANSWER allows. */
void jobs_answer(struct job *j, const char *answer, size_t len);

#endif
