/* SPDX-License-Identifier: MIT */
/*
 * Where vnvme-target serves its JSON-RPC socket when not told (--rpc), and
 * where vnvme-ctl looks: $VNVME_RPC if set, else the user's run directory,
 * $XDG_RUNTIME_DIR/vnvme/rpc.sock (systemd sets it per login: private to
 * the user), else /run/vnvme/rpc.sock for root, else /tmp/vnvme-UID/rpc.sock.
 * Header only: vnvme-ctl links nothing of the target.
 */
#ifndef VN_RPC_PATH_H
#define VN_RPC_PATH_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The default path into buf; NULL when it does not fit. */
static inline const char *vn_rpc_default_path(char *buf, size_t len)
{
	const char *env = getenv("VNVME_RPC"), *run = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && env[0])
		n = snprintf(buf, len, "%s", env);
	else if (run && run[0] == '/')
		n = snprintf(buf, len, "%s/vnvme/rpc.sock", run);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/vnvme/rpc.sock");
	else
		n = snprintf(buf, len, "/tmp/vnvme-%u/rpc.sock", (unsigned)geteuid());
	return n > 0 && (size_t)n < len ? buf : NULL;
}

#endif
