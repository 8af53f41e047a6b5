/* Private to proto/src. */
#ifndef SIGIL_PROTO_INTERNAL_H
#define SIGIL_PROTO_INTERNAL_H

#include <stddef.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "sigil/rpc.h"

/* Read a whole PEM file (at most 1 MiB) into a NUL-terminated heap string.
 * Free with rpc_pem_free (zeroizes: the file may be a private key). */
int rpc_pem_read(const char *path, char **out);
void rpc_pem_free(char *p);

/* The peer's sigil:// identity from the call's auth context: exactly one
 * well-formed sigil:// URI SAN. SIGIL_E_PERMISSION otherwise. */
int rpc_peer_from_call(grpc_call *call, sigil_rpc_peer *out);

/* The sigil:// identity in a PEM leaf certificate's URI SANs (same rule). */
int rpc_peer_from_pem(const char *pem, sigil_rpc_peer *out);

/* Channel / server args with the message size limits, for a server the
 * per-connection stream limit, for a client (if name is non-NULL) the TLS
 * target name override. */
typedef struct {
    grpc_arg arg[4];
    grpc_channel_args args;
} rpc_args;
#define RPC_MAX_STREAMS_PER_CONNECTION 1024
void rpc_args_init(rpc_args *a, size_t max_message, const char *name, int server);

/* grpc_init() once per live server/client, grpc_shutdown() on release. */
void rpc_lib_ref(void);
void rpc_lib_unref(void);

#endif
