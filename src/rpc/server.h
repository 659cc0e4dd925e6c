/* SPDX-License-Identifier: MIT */
/*
 * A JSON-RPC 2.0 server on a UNIX socket, served by a control event loop
 * (util/evloop.h); it knows nothing of NVMe. Requests are a stream of JSON
 * objects (what SPDK's rpc.py sends: no length prefix, no delimiter needed),
 * parsed incrementally; each reply is one JSON object and a newline.
 *
 * Every client is hostile (docs/security.md): a request is bounded in size
 * (past it: an error, then the connection closes), replies a client does not
 * read are bounded (past it: disconnected), writes never block the loop, and
 * connections are bounded in number (idle ones make room for new ones).
 * Batches (arrays) are refused.
 */
#ifndef VN_RPC_SERVER_H
#define VN_RPC_SERVER_H

#include <stddef.h>

#include <json-c/json.h>

#include "util/evloop.h"

/* JSON-RPC 2.0 error codes. */
#define VN_RPC_PARSE_ERROR      (-32700)
#define VN_RPC_INVALID_REQUEST  (-32600)
#define VN_RPC_METHOD_NOT_FOUND (-32601)
#define VN_RPC_INVALID_PARAMS   (-32602)
#define VN_RPC_INTERNAL_ERROR   (-32603)

#define VN_RPC_DEFAULT_MAX_REQUEST (1u << 20) /* bytes of one request */
#define VN_RPC_DEFAULT_MAX_OUTPUT  (4u << 20) /* replies queued for one client */
#define VN_RPC_DEFAULT_MAX_CONNS   64
/* At max_conns, a new client closes the connection idle the longest if it
 * has been idle this long (else the new one is refused). */
#define VN_RPC_IDLE_EVICT_MS 10000

/*
 * A method: params is the request's "params" object (NULL when absent).
 * Return 0 and a new reference in *result (NULL means JSON null), or a
 * JSON-RPC error code (VN_RPC_INVALID_PARAMS ...) with a message in err
 * that says what to fix.
 */
typedef int (*vn_rpc_fn)(void *ctx, struct json_object *params, struct json_object **result,
			 char *err, size_t errlen);

struct vn_rpc_method {
	const char *name;
	vn_rpc_fn fn;
};

struct vn_rpc_opts {
	const char *path; /* the socket: parents created, mode 0600 */
	struct vn_evloop *loop;
	const struct vn_rpc_method *methods; /* ends with {NULL, NULL} */
	void *ctx;                           /* passed to every method */
	size_t max_request;                  /* 0: the defaults above */
	size_t max_output;
	unsigned max_conns;
};

struct vn_rpc_server;

/* Listen on opts->path. A socket left by a dead process is replaced; a live
 * one is refused (-EADDRINUSE), as is a file that is no socket (-EEXIST). */
int vn_rpc_server_create(const struct vn_rpc_opts *opts, struct vn_rpc_server **out);
/* Closes every connection and removes the socket. On the loop's thread. */
void vn_rpc_server_destroy(struct vn_rpc_server *s);

#endif
