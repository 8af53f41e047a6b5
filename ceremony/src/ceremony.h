/* sigil-ceremony internals. */
#ifndef SIGIL_CEREMONY_H
#define SIGIL_CEREMONY_H

#include <stddef.h>

#define CER_PATH_MAX 1024

/* The cluster CA's key lives in the officers' CA token: a SoftHSM token
 * labelled CER_CA_TOKEN in CLUSTER/CER_CA_TOKEN_DIR (softhsm2.conf,
 * tokens/, CER_CA_TOKEN.pin 0600), key pair labelled CER_CA_KEY_LABEL.
 * No CA private key is ever written to a file. */
#define CER_CA_TOKEN_DIR "officers/ca"
#define CER_CA_TOKEN "sigil-ca"
#define CER_CA_KEY_LABEL "sigil-ca"
struct sigil_hsm;
/* pki.c: open the CA token of the cluster in cluster_dir with its PIN file
 * (sets SOFTHSM2_CONF). SIGIL_E_NOT_FOUND if the cluster has no CA token. */
int cer_pki_open_ca(const char *cluster_dir, struct sigil_hsm **h);
/* pki.c: generate the CA's P-256 key pair inside the token ca (sensitive,
 * never extractable) and write the self-signed CA certificate DIR/ca.pem,
 * valid for days, signed by the token. SIGIL_E_EXISTS if the token already
 * holds a CA key. */
int cer_pki_ca(struct sigil_hsm *ca, const char *dir, const char *cluster_id, unsigned days);
/* pki.c: a P-256 key and certificate for identity ("node/1",
 * "coordinator", "wallet/alice", "officer/carol", "admin/ops") signed inside
 * the CA token ca: DIR/<identity with / -> ->.pem|.key; SAN
 * URI:sigil://identity plus DNS:localhost, IP:127.0.0.1. The token's key
 * must be the one DIR/ca.pem certifies (SIGIL_E_MISMATCH); every
 * certificate is verified under it before it is written. */
int cer_pki_issue(struct sigil_hsm *ca, const char *dir, const char *identity, unsigned days);
/* "node/1" -> "node-1" */
void cer_identity_file(const char *identity, char *out, size_t n);

/* ---- shared by the command files (ceremony.c, import.c) ---- */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sigil/breaker.h"
#include "sigil/rpc.h"
#include "sigil/v1/common.pb-c.h"

#define MAX_NODES 16
#define MAX_OFFICERS 16

typedef struct {
    char dir[CER_PATH_MAX];
    char cluster_id[65];
    unsigned k, m, n, t;
    char target[64];
    sigil_breaker_officer officers[MAX_OFFICERS];
} cluster;

/* A statement (or approval) file: the signed statement bytes and the
 * parameters its params_hash covers. */
typedef struct {
    uint8_t bytes[SIGIL_BREAKER_STATEMENT_MAX];
    size_t len;
    json_t *params; /* owned; may be NULL */
} stmt_file;

typedef struct {
    sigil_rpc_client *rpc;
    unsigned timeout;
} conn;

extern int g_json; /* --json: one JSON object on stdout */

/* Print "sigil-ceremony: MESSAGE" (or a JSON error) to stderr; returns code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Progress line on stderr. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print o (consumed) as one line of JSON on stdout. */
void emit_json(json_t *o);
void hex(char *out, const uint8_t *p, size_t n);
/* Decode hex s into at most max bytes; 0 on success. */
int unhex(const char *s, uint8_t *out, size_t max, size_t *n);
int valid_name(const char *s);
/* Write text to path with mode; excl: refuse an existing file (SIGIL_E_EXISTS). */
int write_text(const char *path, int mode, int excl, const char *text);
const sigil_breaker_officer *cluster_officer(const cluster *c, const char *name);
int stmt_load(const char *path, stmt_file *s);
Sigil__V1__ApprovalStatement *stmt_decode(const stmt_file *s);
/* mTLS client to the coordinator as identity (e.g. "officer/carol"). */
int connect_as(cluster *c, const char *identity, conn *k);
int rpc(conn *k, const char *what, const char *method, const ProtobufCMessage *req,
        const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp);
/* Load the statement and approval files and verify them locally for action
 * (unless skip_local). */
int gather(cluster *c, const char *stmt_path, char **files, int nf, const char *action,
           uint64_t epoch, int skip_local, stmt_file *s, Sigil__V1__Approval *ap,
           Sigil__V1__Approval **app, char names[][65], uint8_t sigs[][64]);

/* A SoftHSM token in dir (softhsm2.conf, tokens/, LABEL.pin) with the
 * sealing key and an Ed25519 key labelled keylabel; pk_hex its public key. */
int make_token(const char *dir, const char *label, const char *keylabel, char pk_hex[65]);

/* ---- import.c ---- */

typedef struct {
    int scheme;
    unsigned t, n;
    uint8_t pk[65];
    size_t pklen;
} cer_import_params_t;

/* propose import KEY --scheme S --threshold T (--key-file F | --public-key HEX) --out FILE */
int cer_import_propose(cluster *c, int argc, char **argv);
/* The file's import parameters, checked against the signed params_hash
 * (-1 if they do not match). out may be NULL. */
int cer_import_params(const cluster *c, const stmt_file *s, const Sigil__V1__ApprovalStatement *st,
                      cer_import_params_t *out);
/* What approve shows for an import statement. */
void cer_import_describe(FILE *o, const cluster *c, const stmt_file *s,
                         const Sigil__V1__ApprovalStatement *st);
/* sigil-ceremony import STATEMENT --key-file F --approval FILE... */
int cer_cmd_import(cluster *c, int argc, char **argv);

/* Open officer NAME's token (recorded at init). */
struct sigil_hsm;
int cer_officer_token(cluster *c, const char *officer, struct sigil_hsm **h);
/* Node identity keys recorded at init (coord/coord.json): pk[id], have[id]. */
int cer_node_identities(cluster *c, uint8_t pk[MAX_NODES + 1][32], int have[MAX_NODES + 1]);

/* ---- backup.c ---- */
int cer_backup_propose(cluster *c, const char *op, int argc, char **argv);
/* -1 if a backup/restore statement file's parameters do not match. */
int cer_backup_params_ok(const cluster *c, const stmt_file *s, const Sigil__V1__ApprovalStatement *st);
void cer_backup_describe(FILE *o, const cluster *c, const stmt_file *s,
                         const Sigil__V1__ApprovalStatement *st);
int cer_cmd_backup(cluster *c, const char *cmd, int argc, char **argv);
/* lifecycle.c: refresh and retire */
/* params_hash of a refresh / retire statement: SHA-256 of RefreshRequest /
 * RetireRequest{key_id} packed alone (what the coordinator and the nodes
 * recompute). 0 or -1 (bad key id). */
int cer_lc_params_hash(const char *op, const char *key_id, uint8_t h[32]);
/* 0 if st (refresh / retire) carries the params hash of its key id. */
int cer_lc_params_check(const Sigil__V1__ApprovalStatement *st);
/* `sigil-ceremony refresh|retire STATEMENT --approval FILE...` */
int cer_cmd_lifecycle(cluster *c, const char *op, int argc, char **argv);

#endif
