/* The broker-wide state (state.h). */
#include "state.h"

struct broker B = {.job_rd = -1, .job_wr = -1};
