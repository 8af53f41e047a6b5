/* sigil-node internals: configuration, state files, the daemon. */
#ifndef SIGIL_NODE_INTERNAL_H
#define SIGIL_NODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/breaker.h"

#define NODE_MAX_PEERS 64
#define NODE_PATH_MAX 1024

typedef struct {
    uint32_t node_id;
    char listen[256];
    char tls_ca[NODE_PATH_MAX], tls_cert[NODE_PATH_MAX], tls_key[NODE_PATH_MAX];
    char pkcs11_module[NODE_PATH_MAX];
    char token_label[64];
    char pin_file[NODE_PATH_MAX];
    char state_dir[NODE_PATH_MAX];
    char cluster_id[SIGIL_BREAKER_NAME_MAX + 1];
    uint32_t peer_ids[NODE_MAX_PEERS];
    uint8_t peer_pks[NODE_MAX_PEERS][32];
    size_t npeers;
    sigil_breaker_officer officers[SIGIL_BREAKER_MAX_OFFICERS];
    size_t nofficers;
    unsigned resume_k;
    uint32_t pool_max;     /* FROST nonces per key */
    uint32_t refill_max;   /* entries per RefillPool call */
    unsigned threads;
} node_config;

/* Parse the key=value configuration file (see docs/modules/signer-node.md). On
 * error writes a message to err (cap bytes). */
int node_config_load(node_config *c, const char *path, char *err, size_t cap);

#endif
