/* The generic node session driver: fan-out of one call to many nodes with
 * the proto library's async calls, and the round relay. The coordinator
 * never looks inside a DATA or ECHO envelope: it routes by the clear header
 * only (the receiving node checks the signed copy of that header). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_int.h"
#include "sigil/err.h"

#define SESSION_MSG_MAX ((size_t)8 << 20)

uint64_t coord_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int coord_node_healthy(coord_node *n)
{
    uint64_t until = atomic_load(&n->down_until_ms);
    return until == 0 || coord_now_ms() >= until;
}

void coord_node_failed(coord_node *n)
{
    unsigned f = atomic_fetch_add(&n->fails, 1) + 1;
    uint64_t backoff = f > 5 ? 1000 : 30u << (f - 1); /* 30 ms .. 1 s */
    atomic_store(&n->down_until_ms, coord_now_ms() + backoff);
}

void coord_node_ok(coord_node *n)
{
    if (atomic_load(&n->fails) || atomic_load(&n->down_until_ms)) {
        atomic_store(&n->fails, 0);
        atomic_store(&n->down_until_ms, 0);
    }
}

/* ---- fan-out ---- */

/* The calls share one completion queue polled by this thread
 * (sigil_rpc_call_multi): no completion thread and no condition variable
 * between a node's answer and the session that waits for it. */
void coord_fanout(coord_node **nodes, size_t count, const char *method, const sigil_buf *reqs,
                  sigil_buf *resps, int *rcs, sigil_rpc_status *st, unsigned timeout_ms)
{
    sigil_rpc_client *cl[SIGIL_COORD_MAX_NODES] = {0};
    const uint8_t *rq[SIGIL_COORD_MAX_NODES] = {0};
    size_t len[SIGIL_COORD_MAX_NODES] = {0};
    if (count == 0 || count > SIGIL_COORD_MAX_NODES)
        return;
    for (size_t i = 0; i < count; i++) {
        cl[i] = nodes[i]->client;
        rq[i] = reqs[i].data;
        len[i] = reqs[i].size;
    }
    int rc = sigil_rpc_call_multi(cl, count, method, rq, len, resps, timeout_ms, rcs, st);
    if (rc) /* bad arguments: every call failed */
        for (size_t i = 0; i < count; i++) {
            rcs[i] = rc;
            st[i].code = sigil_rpc_status_from_err(rc);
            snprintf(st[i].detail, sizeof st[i].detail, "call not started: %s",
                     sigil_strerror(rc));
        }
}

/* ---- sessions ---- */

void coord_session_abort(coord_node **nodes, size_t count, const uint8_t sid[32],
                         const char *reason)
{
    Sigil__V1__AbortSessionRequest req = SIGIL__V1__ABORT_SESSION_REQUEST__INIT;
    sigil_buf b[SIGIL_COORD_MAX_NODES];
    int rcs[SIGIL_COORD_MAX_NODES];
    sigil_rpc_status st[SIGIL_COORD_MAX_NODES];
    req.session_id.data = (uint8_t *)sid;
    req.session_id.len = 32;
    req.reason = (char *)reason;
    if (sigil_buf_init(&b[0], 4096, 0) || sigil_rpc_pack(&req.base, &b[0])) {
        sigil_buf_free(&b[0]);
        return;
    }
    for (size_t i = 1; i < count; i++)
        b[i] = b[0]; /* same bytes, read only */
    coord_fanout(nodes, count, SIGIL_RPC_NODE_ABORT_SESSION, b, NULL, rcs, st, 500);
    sigil_buf_free(&b[0]);
}

void coord_session_clear(coord_session *s)
{
    for (size_t i = 0; i < s->count; i++) {
        if (s->final[i])
            sigil_rpc_msg_free(&s->final[i]->base);
        s->final[i] = NULL;
    }
}

static int party_index(const coord_session *s, uint32_t party)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->nodes[i]->cfg->id == party)
            return (int)i;
    return -1;
}

/* Call method on the parties marked in `active` with reqs; decode each
 * answer into cur[i] (freeing the previous one). */
static int round_call(coord_session *s, const char *method, const sigil_buf *reqs,
                      const int *active, Sigil__V1__SessionResponse **cur, unsigned timeout_ms)
{
    coord_node *nodes[SIGIL_COORD_MAX_NODES];
    sigil_buf breqs[SIGIL_COORD_MAX_NODES], resps[SIGIL_COORD_MAX_NODES];
    int rcs[SIGIL_COORD_MAX_NODES], map[SIGIL_COORD_MAX_NODES];
    sigil_rpc_status st[SIGIL_COORD_MAX_NODES];
    size_t k = 0;
    int rc = SIGIL_OK;

    memset(breqs, 0, sizeof breqs);
    for (size_t i = 0; i < s->count; i++)
        if (active[i]) {
            nodes[k] = s->nodes[i];
            breqs[k] = reqs[i];
            map[k] = (int)i;
            sigil_buf_init(&resps[k], SESSION_MSG_MAX, 0);
            k++;
        }
    coord_fanout(nodes, k, method, breqs, resps, rcs, st, timeout_ms);
    for (size_t j = 0; j < k; j++) {
        int i = map[j];
        ProtobufCMessage *m = NULL;
        if (rc == SIGIL_OK && rcs[j] != SIGIL_OK) {
            rc = rcs[j];
            s->failed_party = nodes[j]->cfg->id;
            snprintf(s->detail, sizeof s->detail, "node %u: %s: %s", nodes[j]->cfg->id,
                     sigil_rpc_status_name(st[j].code), st[j].detail);
            /* a node that refuses on protocol grounds is alive; one that
             * does not answer is marked down */
            if (rc == SIGIL_E_TIMEOUT || rc == SIGIL_E_UNAVAILABLE)
                coord_node_failed(nodes[j]);
        } else if (rcs[j] == SIGIL_OK) {
            coord_node_ok(nodes[j]);
            if (rc == SIGIL_OK) {
                int urc = sigil_rpc_unpack(&sigil__v1__session_response__descriptor,
                                           resps[j].data, resps[j].size, SESSION_MSG_MAX, &m);
                if (urc) {
                    rc = urc;
                    s->failed_party = nodes[j]->cfg->id;
                    snprintf(s->detail, sizeof s->detail, "node %u: undecodable SessionResponse",
                             nodes[j]->cfg->id);
                } else {
                    if (cur[i])
                        sigil_rpc_msg_free(&cur[i]->base);
                    cur[i] = (Sigil__V1__SessionResponse *)m;
                }
            }
        }
        sigil_buf_free(&resps[j]);
    }
    return rc;
}

/* Check an envelope node n gave the coordinator to relay: the clear
 * header belongs to this session, to n and to n's current round, kind DATA
 * or ECHO, and the payload's envelope-key certificate and signature verify
 * for that header under n's configured identity key. Every failure is
 * SIGIL_E_CHECK (n cheated or is broken; gRPC ABORTED for a caller) and
 * why says which check. sigil_env_open checks the signature before it
 * looks at the recipient, so SIGIL_E_INVALID for an envelope encrypted to
 * another node (to != 0) means "signed correctly, not ours to read".
 * scratch receives broadcast bodies (public) and is reset. */
static int relay_check(const coord_session *s, coord_node *n, uint32_t round,
                       const Sigil__V1__Envelope *env, sigil_buf *scratch, char *why, size_t wlen)
{
    sigil_env_header h;
    int rc;
    uint32_t from = n->cfg->id;
    if (!env || env->from != from || env->session_id.len != 32 ||
        memcmp(env->session_id.data, s->session_id, 32)) {
        snprintf(why, wlen, "node %u sent an envelope with a wrong sender or session", from);
        return SIGIL_E_CHECK;
    }
    if (env->round != round || (env->kind != SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA &&
                                env->kind != SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_ECHO)) {
        snprintf(why, wlen, "node %u sent a round %u envelope of kind %d in round %u", from,
                 env->round, (int)env->kind, round);
        return SIGIL_E_CHECK;
    }
    if (!n->peers)
        return SIGIL_OK;
    h.session_id = env->session_id.data;
    h.session_id_len = env->session_id.len;
    h.round = env->round;
    h.from = env->from;
    h.to = env->to;
    h.kind = (uint32_t)env->kind;
    sigil_buf_reset(scratch);
    rc = sigil_env_open(n->peers, NULL, &h, env->payload.data, env->payload.len, scratch, NULL);
    sigil_buf_reset(scratch);
    if (rc == SIGIL_E_INVALID && env->to != 0)
        rc = SIGIL_OK;
    if (rc) {
        snprintf(why, wlen, "node %u sent an envelope that does not verify: %s", from,
                 sigil_strerror(rc));
        rc = rc == SIGIL_E_NOMEM ? rc : SIGIL_E_CHECK;
    }
    return rc;
}

int coord_session_run(coord_session *s, const sigil_buf *starts, unsigned node_timeout_ms,
                      unsigned max_rounds)
{
    Sigil__V1__SessionResponse *cur[SIGIL_COORD_MAX_NODES] = {0};
    int active[SIGIL_COORD_MAX_NODES];
    sigil_buf reqs[SIGIL_COORD_MAX_NODES], scratch;
    int rc;

    s->failed_party = 0;
    s->detail[0] = 0;
    memset(s->final, 0, sizeof s->final);
    if (s->count < 1 || s->count > SIGIL_COORD_MAX_NODES)
        return SIGIL_E_INVALID;
    if ((rc = sigil_buf_init(&scratch, SIGIL_ENV_MAX_BODY, 0)))
        return rc;
    for (size_t i = 0; i < s->count; i++)
        active[i] = 1;
    rc = round_call(s, SIGIL_RPC_NODE_START_SESSION, starts, active, cur, node_timeout_ms);

    for (unsigned r = 0; rc == SIGIL_OK; r++) {
        size_t open = 0;
        uint32_t round = 0;
        int have_round = 0;
        for (size_t i = 0; i < s->count; i++) {
            active[i] = !cur[i]->done;
            open += (size_t)active[i];
        }
        if (open == 0)
            break;
        if (r >= max_rounds) {
            rc = SIGIL_E_STATE;
            snprintf(s->detail, sizeof s->detail, "session not done after %u rounds", max_rounds);
            break;
        }
        /* every party still running must be in the same round */
        for (size_t i = 0; i < s->count && rc == SIGIL_OK; i++) {
            if (!active[i])
                continue;
            if (have_round && cur[i]->round != round) {
                rc = SIGIL_E_STATE;
                s->failed_party = s->nodes[i]->cfg->id;
                snprintf(s->detail, sizeof s->detail, "node %u in round %u, others in %u",
                         s->nodes[i]->cfg->id, cur[i]->round, round);
            }
            round = cur[i]->round;
            have_round = 1;
        }
        if (rc)
            break;
        /* route: build each active party's RoundRequest */
        Sigil__V1__Envelope **in[SIGIL_COORD_MAX_NODES];
        size_t nin[SIGIL_COORD_MAX_NODES] = {0}, cap = 0;
        for (size_t i = 0; i < s->count; i++)
            cap += cur[i]->n_outbound;
        for (size_t i = 0; i < s->count; i++)
            in[i] = calloc(cap ? cap : 1, sizeof *in[i]);
        for (size_t i = 0; i < s->count && rc == SIGIL_OK; i++) {
            for (size_t e = 0; e < cur[i]->n_outbound; e++) {
                Sigil__V1__Envelope *env = cur[i]->outbound[e];
                uint32_t from = s->nodes[i]->cfg->id;
                int to;
                if ((rc = relay_check(s, s->nodes[i], cur[i]->round, env, &scratch, s->detail,
                                      sizeof s->detail))) {
                    s->failed_party = from;
                    break;
                }
                if (env->to == 0) {
                    for (size_t j = 0; j < s->count; j++)
                        if (j != i && in[j])
                            in[j][nin[j]++] = env;
                } else if ((to = party_index(s, env->to)) >= 0 && (size_t)to != i) {
                    in[to][nin[to]++] = env;
                } else {
                    rc = SIGIL_E_PARTICIPANT;
                    s->failed_party = from;
                    snprintf(s->detail, sizeof s->detail,
                             "node %u sent an envelope to party %u, not in the session", from,
                             env->to);
                    break;
                }
            }
        }
        for (size_t i = 0; i < s->count; i++) {
            Sigil__V1__RoundRequest rr = SIGIL__V1__ROUND_REQUEST__INIT;
            sigil_buf_init(&reqs[i], SESSION_MSG_MAX, 0);
            if (rc || !active[i])
                continue;
            rr.session_id.data = s->session_id;
            rr.session_id.len = 32;
            rr.round = round;
            rr.inbound = in[i];
            rr.n_inbound = nin[i];
            rc = sigil_rpc_pack(&rr.base, &reqs[i]);
        }
        for (size_t i = 0; i < s->count; i++)
            free(in[i]);
        if (rc == SIGIL_OK)
            rc = round_call(s, SIGIL_RPC_NODE_ROUND, reqs, active, cur, node_timeout_ms);
        for (size_t i = 0; i < s->count; i++)
            sigil_buf_free(&reqs[i]);
    }
    sigil_buf_free(&scratch);

    if (rc) {
        coord_session_abort(s->nodes, s->count, s->session_id, s->detail);
        for (size_t i = 0; i < s->count; i++)
            if (cur[i])
                sigil_rpc_msg_free(&cur[i]->base);
        return rc;
    }
    for (size_t i = 0; i < s->count; i++)
        s->final[i] = cur[i];
    return SIGIL_OK;
}
