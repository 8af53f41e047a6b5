/* sigil-ceremony internals. */
#ifndef SIGIL_CEREMONY_H
#define SIGIL_CEREMONY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sigil/breaker.h"
#include "sigil/rpc.h"
#include "sigil/v1/common.pb-c.h"

#define CER_PATH_MAX 1024
#define MAX_OFFICERS 16

/* ceremony.c: cluster.json as loaded */
typedef struct {
    char dir[CER_PATH_MAX];
    char cluster_id[65];
    unsigned k, m, n, t;
    char target[64];
    sigil_breaker_officer officers[MAX_OFFICERS];
} cluster;

/* a statement (or approval) file */
typedef struct {
    uint8_t bytes[SIGIL_BREAKER_STATEMENT_MAX];
    size_t len;
    json_t *params; /* owned; may be NULL */
} stmt_file;

/* an mTLS connection to the coordinator */
typedef struct {
    sigil_rpc_client *rpc;
    unsigned timeout;
} conn;

/* ceremony.c helpers shared with lifecycle.c */
/* --json given; where human-readable text goes (stderr under --json) */
int cer_json_mode(void);
FILE *cer_out(void);
/* print the error (or {"error":...} with --json), return code */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a progress line on stderr */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* print o (consumed) as one JSON line */
void emit_json(json_t *o);
void hex(char *out, const uint8_t *p, size_t n);
int unhex(const char *s, uint8_t *out, size_t max, size_t *n);
int valid_name(const char *s);
int write_text(const char *path, int mode, int excl, const char *text);
const sigil_breaker_officer *cluster_officer(const cluster *c, const char *name);
int stmt_load(const char *path, stmt_file *s);
Sigil__V1__ApprovalStatement *stmt_decode(const stmt_file *s);
/* connect to the coordinator with identity's certificate from DIR/pki */
int connect_as(cluster *c, const char *identity, conn *k);
int rpc(conn *k, const char *what, const char *method, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp);
/* load STATEMENT and approval files, check them locally (unless skip_local) */
int gather(cluster *c, const char *stmt_path, char **files, int nf, const char *action,
           uint64_t epoch, int skip_local, stmt_file *s, Sigil__V1__Approval *ap,
           Sigil__V1__Approval **app, char names[][65], uint8_t sigs[][64]);

/* lifecycle.c: refresh and retire */
/* params_hash of a refresh / retire statement: SHA-256 of RefreshRequest /
 * RetireRequest{key_id} packed alone (what the coordinator and the nodes
 * recompute). 0 or -1 (bad key id). */
int cer_lc_params_hash(const char *op, const char *key_id, uint8_t h[32]);
/* 0 if st (refresh / retire) carries the params hash of its key id. */
int cer_lc_params_check(const Sigil__V1__ApprovalStatement *st);
/* `sigil-ceremony refresh|retire STATEMENT --approval FILE...` */
int cer_cmd_lifecycle(cluster *c, const char *op, int argc, char **argv);

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
