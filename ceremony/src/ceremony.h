/* sigil-ceremony internals. */
#ifndef SIGIL_CEREMONY_H
#define SIGIL_CEREMONY_H

#include <stddef.h>

#define CER_PATH_MAX 1024

/* pki.c: a P-256 CA (DIR/ca.pem, DIR/ca.key mode 0600) valid for days. */
int cer_pki_ca(const char *dir, const char *cluster_id, unsigned days);
/* pki.c: a P-256 key and certificate for identity ("node/1",
 * "coordinator", "wallet/alice", "officer/carol", "admin/ops") signed by
 * DIR's CA: DIR/<identity with / -> ->.pem|.key; SAN URI:sigil://identity
 * plus DNS:localhost, IP:127.0.0.1. */
int cer_pki_issue(const char *dir, const char *identity, unsigned days);
/* "node/1" -> "node-1" */
void cer_identity_file(const char *identity, char *out, size_t n);

#endif
