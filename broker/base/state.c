/* The broker-wide state (state.h). */
#include "state.h"

struct broker B;
