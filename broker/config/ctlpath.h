/* The caller's own ControlPath: whether an OpenSSH master already listens there. */
#ifndef MUXSHIM_CTLPATH_H
#define MUXSHIM_CTLPATH_H

#include "sshconfig.h"

/* 1 when ssh would multiplex this session through an OpenSSH master that listens on the
 * config's ControlPath right now (ControlMaster no/auto/autoask and a socket that accepts
 * a connection), else 0. Such a session is left to the real ssh: it logs in nothing. */
int ctlpath_live_master(const struct hostcfg *cfg);

#endif
