/* PostgreSQL backend through libpq: one transaction per group commit,
 * multi-row INSERTs with binary parameters. The schema (pg_migrate) makes
 * the tables append-only for every role: triggers reject UPDATE, DELETE
 * and TRUNCATE, and the writer role is granted INSERT and SELECT only. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sigil/err.h"

#define PG_ROWS_PER_INSERT 1000
#define PG_SCHEMA_VERSION 1

typedef struct {
    PGconn *c;
    char *sql;   /* the multi-row INSERT for PG_ROWS_PER_INSERT rows */
    uint8_t (*seqs)[8];
    const char **vals;
    int *lens, *fmts;
    int locked;
} pg_be;

static void reportf(audit_report_fn report, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reportf(audit_report_fn report, void *ctx, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report(ctx, msg);
}

static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    return ok;
}

static char *insert_sql(int rows)
{
    size_t cap = 64 + (size_t)rows * 40;
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    size_t o = (size_t)snprintf(s, cap, "INSERT INTO sigil_audit_entries (seq, entry) VALUES ");
    for (int i = 0; i < rows; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s($%d::int8,$%d::bytea)", i ? "," : "", 2 * i + 1,
                              2 * i + 2);
    return s;
}

static int insert_rows(pg_be *p, const uint8_t *frames, const size_t *offs, size_t n,
                       uint64_t first_seq)
{
    char *sql = n == PG_ROWS_PER_INSERT ? p->sql : insert_sql((int)n);
    if (sql == NULL)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = first_seq + i;
        for (int k = 0; k < 8; k++)
            p->seqs[i][k] = (uint8_t)(s >> (56 - 8 * k));
        const uint8_t *f = frames + offs[i];
        p->vals[2 * i] = (const char *)p->seqs[i];
        p->lens[2 * i] = 8;
        p->vals[2 * i + 1] = (const char *)(f + 4);
        p->lens[2 * i + 1] = (int)audit_rd32(f);
    }
    PGresult *res = PQexecParams(p->c, sql, (int)(2 * n), NULL, p->vals, p->lens, p->fmts, 1);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (sql != p->sql)
        free(sql);
    return ok ? SIGIL_OK : SIGIL_E_IO;
}

static int pg_write(void *be, const uint8_t *frames, size_t len, const size_t *offs, size_t n,
                    uint64_t first_seq)
{
    pg_be *p = be;
    (void)len;
    if (!exec_ok(p->c, "BEGIN"))
        return SIGIL_E_IO;
    for (size_t i = 0; i < n; i += PG_ROWS_PER_INSERT) {
        size_t k = n - i < PG_ROWS_PER_INSERT ? n - i : PG_ROWS_PER_INSERT;
        if (insert_rows(p, frames, offs + i, k, first_seq + i) != SIGIL_OK) {
            exec_ok(p->c, "ROLLBACK");
            return SIGIL_E_IO;
        }
    }
    /* synchronous_commit must be on for COMMIT to mean durable. */
    return exec_ok(p->c, "COMMIT") ? SIGIL_OK : SIGIL_E_IO;
}

static int pg_checkpoint(void *be, const uint8_t *note, size_t n, uint64_t size)
{
    pg_be *p = be;
    char sz[24], *txt = malloc(n + 1);
    if (txt == NULL)
        return SIGIL_E_NOMEM;
    memcpy(txt, note, n);
    txt[n] = 0;
    snprintf(sz, sizeof(sz), "%" PRIu64, size);
    const char *vals[2] = {sz, txt};
    PGresult *res = PQexecParams(
        p->c, "INSERT INTO sigil_audit_checkpoints (size, note) VALUES ($1::int8, $2::text)", 2,
        NULL, vals, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    free(txt);
    return ok ? SIGIL_OK : SIGIL_E_IO;
}

static void pg_close(void *be)
{
    pg_be *p = be;
    if (p == NULL)
        return;
    /* Release the writer lock now: the server drops it only when the
     * backend exits, which can be after PQfinish returns. */
    if (p->locked)
        exec_ok(p->c, "SELECT pg_advisory_unlock(5340111)");
    PQfinish(p->c);
    free(p->sql);
    free(p->seqs);
    free(p->vals);
    free(p->lens);
    free(p->fmts);
    free(p);
}

static const audit_backend_ops pg_ops = {pg_write, pg_checkpoint, pg_close};

static int load(pg_be *p, const sigil_audit_signer *signer, audit_report_fn report, void *ctx,
                audit_state *st)
{
    PGresult *res = PQexec(p->c, "SELECT version FROM sigil_audit_schema");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        atoi(PQgetvalue(res, 0, 0)) != PG_SCHEMA_VERSION) {
        reportf(report, ctx, "postgres: schema missing or not version %d (run sigil-audit pg-init): %s",
                PG_SCHEMA_VERSION, PQerrorMessage(p->c));
        PQclear(res);
        return SIGIL_E_NOT_FOUND;
    }
    PQclear(res);
    res = PQexecParams(p->c, "SELECT note FROM sigil_audit_checkpoints ORDER BY id DESC LIMIT 1", 0,
                       NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return SIGIL_E_IO;
    }
    if (PQntuples(res) == 1) {
        sigil_audit_checkpoint cp;
        const char *note = PQgetvalue(res, 0, 0);
        int r = sigil_audit_checkpoint_verify((const uint8_t *)note, strlen(note), signer->name,
                                              signer->pub, &cp);
        if (r) {
            reportf(report, ctx, "postgres: last checkpoint: %s", sigil_strerror(r));
            PQclear(res);
            return SIGIL_E_CHECK;
        }
        st->cp_size = cp.size;
    }
    PQclear(res);
    /* Stream the entries: single-row mode keeps memory flat. */
    if (!PQsendQueryParams(p->c, "SELECT seq, entry FROM sigil_audit_entries ORDER BY seq", 0, NULL,
                           NULL, NULL, NULL, 1) ||
        !PQsetSingleRowMode(p->c))
        return SIGIL_E_IO;
    sigil_audit_compact_init(&st->tree);
    int r = SIGIL_OK;
    while ((res = PQgetResult(p->c)) != NULL) {
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_SINGLE_TUPLE && r == SIGIL_OK) {
            const uint8_t *sq = (const uint8_t *)PQgetvalue(res, 0, 0);
            uint64_t seq = (uint64_t)audit_rd32(sq) << 32 | audit_rd32(sq + 4);
            const uint8_t *ent = (const uint8_t *)PQgetvalue(res, 0, 1);
            size_t len = (size_t)PQgetlength(res, 0, 1);
            sigil_audit_entry e;
            uint8_t leaf[32];
            int d = sigil_audit_entry_decode(ent, len, &e);
            if (d || e.seq != seq || seq != st->tree.size || e.time_ms < st->last_time) {
                reportf(report, ctx, "postgres: entry index %" PRIu64 " (seq %" PRIu64 "): %s",
                        st->tree.size, seq, d ? sigil_strerror(d) : "sequence or time out of order");
                r = SIGIL_E_CHECK;
            } else {
                sigil_audit_leaf_hash(ent, len, leaf);
                sigil_audit_compact_append(&st->tree, leaf);
                st->last_time = e.time_ms;
            }
        } else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK) {
            r = SIGIL_E_IO;
        }
        PQclear(res);
    }
    if (r == SIGIL_OK && st->cp_size > st->tree.size) {
        reportf(report, ctx, "postgres: checkpoint covers %" PRIu64 " entries, only %" PRIu64 " stored",
                st->cp_size, st->tree.size);
        r = SIGIL_E_CHECK;
    }
    return r;
}

int audit_pg_open(const char *conninfo, const sigil_audit_signer *signer, audit_report_fn report,
                  void *report_ctx, audit_state *st, void **be, const audit_backend_ops **ops)
{
    int r;
    pg_be *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SIGIL_E_NOMEM;
    p->c = PQconnectdb(conninfo);
    if (PQstatus(p->c) != CONNECTION_OK) {
        reportf(report, report_ctx, "postgres: %s", PQerrorMessage(p->c));
        r = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    p->sql = insert_sql(PG_ROWS_PER_INSERT);
    p->seqs = calloc(PG_ROWS_PER_INSERT, sizeof(*p->seqs));
    p->vals = calloc(2 * PG_ROWS_PER_INSERT, sizeof(*p->vals));
    p->lens = calloc(2 * PG_ROWS_PER_INSERT, sizeof(*p->lens));
    p->fmts = calloc(2 * PG_ROWS_PER_INSERT, sizeof(*p->fmts));
    if (!p->sql || !p->seqs || !p->vals || !p->lens || !p->fmts) {
        r = SIGIL_E_NOMEM;
        goto fail;
    }
    for (int i = 0; i < 2 * PG_ROWS_PER_INSERT; i++)
        p->fmts[i] = 1;
    /* One writer per log: a session-level advisory lock. */
    PGresult *res = PQexec(p->c, "SELECT pg_try_advisory_lock(5340111)");
    int locked = PQresultStatus(res) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    if (!locked) {
        reportf(report, report_ctx, "postgres: log locked by another writer");
        r = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    p->locked = 1;
    if (!exec_ok(p->c, "SET synchronous_commit = on")) {
        r = SIGIL_E_IO;
        goto fail;
    }
    if ((r = load(p, signer, report, report_ctx, st)))
        goto fail;
    *be = p;
    *ops = &pg_ops;
    return SIGIL_OK;
fail:
    pg_close(p);
    return r;
}

static const char *const migrations[] = {
    /* version 1 */
    "CREATE TABLE sigil_audit_entries ("
    "  seq bigint PRIMARY KEY CHECK (seq >= 0),"
    "  entry bytea NOT NULL CHECK (length(entry) BETWEEN 1 AND 2048));"
    "CREATE TABLE sigil_audit_checkpoints ("
    "  id bigserial PRIMARY KEY,"
    "  size bigint NOT NULL CHECK (size >= 0),"
    "  note text NOT NULL);"
    "CREATE FUNCTION sigil_audit_reject() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN RAISE EXCEPTION 'sigil audit log is append-only: % on % rejected', TG_OP, TG_TABLE_NAME;"
    " END $f$;"
    "CREATE TRIGGER sigil_audit_entries_no_change BEFORE UPDATE OR DELETE ON sigil_audit_entries"
    "  FOR EACH ROW EXECUTE FUNCTION sigil_audit_reject();"
    "CREATE TRIGGER sigil_audit_entries_no_truncate BEFORE TRUNCATE ON sigil_audit_entries"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sigil_audit_reject();"
    "CREATE TRIGGER sigil_audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON sigil_audit_checkpoints"
    "  FOR EACH ROW EXECUTE FUNCTION sigil_audit_reject();"
    "CREATE TRIGGER sigil_audit_checkpoints_no_truncate BEFORE TRUNCATE ON sigil_audit_checkpoints"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sigil_audit_reject();"
    "REVOKE ALL ON sigil_audit_entries, sigil_audit_checkpoints, sigil_audit_schema FROM PUBLIC;",
};

int sigil_audit_pg_migrate(const char *conninfo, const char *writer_role, char *err, size_t err_len)
{
    int r = SIGIL_E_IO;
    char sql[512];
    if (conninfo == NULL || err == NULL || err_len == 0)
        return SIGIL_E_INVALID;
    err[0] = 0;
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, err_len, "connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return SIGIL_E_UNAVAILABLE;
    }
    if (!exec_ok(c, "BEGIN") || !exec_ok(c, "SELECT pg_advisory_xact_lock(5340112)") ||
        !exec_ok(c, "CREATE TABLE IF NOT EXISTS sigil_audit_schema (version int NOT NULL)"))
        goto sqlfail;
    PGresult *res = PQexec(c, "SELECT coalesce(max(version), 0) FROM sigil_audit_schema");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        goto sqlfail;
    }
    int have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    int want = (int)(sizeof(migrations) / sizeof(migrations[0]));
    if (have > want) {
        snprintf(err, err_len, "schema version %d is newer than this tool (%d)", have, want);
        r = SIGIL_E_VERSION;
        goto out;
    }
    for (int v = have; v < want; v++)
        if (!exec_ok(c, migrations[v]))
            goto sqlfail;
    snprintf(sql, sizeof(sql), "DELETE FROM sigil_audit_schema; INSERT INTO sigil_audit_schema VALUES (%d)",
             want);
    if (!exec_ok(c, sql))
        goto sqlfail;
    if (writer_role) {
        char *id = PQescapeIdentifier(c, writer_role, strlen(writer_role));
        char *lit = PQescapeLiteral(c, writer_role, strlen(writer_role));
        if (id == NULL || lit == NULL) {
            PQfreemem(id);
            PQfreemem(lit);
            goto sqlfail;
        }
        snprintf(sql, sizeof(sql),
                 "DO $d$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN"
                 " CREATE ROLE %s NOLOGIN; END IF; END $d$;"
                 "REVOKE ALL ON sigil_audit_entries, sigil_audit_checkpoints, sigil_audit_schema FROM %s;"
                 "GRANT SELECT, INSERT ON sigil_audit_entries, sigil_audit_checkpoints TO %s;"
                 "GRANT SELECT ON sigil_audit_schema TO %s;"
                 "GRANT USAGE ON SEQUENCE sigil_audit_checkpoints_id_seq TO %s;",
                 lit, id, id, id, id, id);
        PQfreemem(id);
        PQfreemem(lit);
        if (!exec_ok(c, sql))
            goto sqlfail;
    }
    if (!exec_ok(c, "COMMIT"))
        goto sqlfail;
    PQfinish(c);
    return SIGIL_OK;
sqlfail:
    snprintf(err, err_len, "%s", PQerrorMessage(c));
out:
    PQfinish(c);
    return r;
}
