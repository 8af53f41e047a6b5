/* The DKLs23 message envelope (see ecdsa.h): the only decoder of untrusted
 * protocol bytes in the ECDSA code, on top of sigil_buf. */
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"

static int known_type(uint8_t t)
{
    switch (t) {
    case SIGIL_ECDSA_MSG_SETUP1:
    case SIGIL_ECDSA_MSG_SETUP2:
    case SIGIL_ECDSA_MSG_SETUP3:
    case SIGIL_ECDSA_MSG_PRESIGN1:
    case SIGIL_ECDSA_MSG_PRESIGN2:
    case SIGIL_ECDSA_MSG_SIGN:
        return 1;
    default:
        return 0;
    }
}

int sigil_ecdsa_msg_decode(sigil_ecdsa_msg *out, const uint8_t *p, size_t n)
{
    sigil_buf b;
    uint8_t ver;
    uint32_t len;
    int rc;
    if (out == NULL || (p == NULL && n))
        return SIGIL_E_INVALID;
    memset(out, 0, sizeof *out);
    if (n > SIGIL_ECDSA_MAX_PAYLOAD + 64)
        return SIGIL_E_TOO_LARGE;
    sigil_buf_view(&b, p, n);
    if ((rc = sigil_buf_get_u8(&b, &ver)) != SIGIL_OK ||
        (rc = sigil_buf_get_u8(&b, &out->type)) != SIGIL_OK)
        goto fail;
    if (ver != SIGIL_ECDSA_VERSION || !known_type(out->type)) {
        rc = SIGIL_E_VERSION;
        goto fail;
    }
    if ((rc = sigil_buf_get(&b, out->sid, SIGIL_ECDSA_SID_LEN)) != SIGIL_OK ||
        (rc = sigil_buf_get_u16(&b, &out->sender)) != SIGIL_OK ||
        (rc = sigil_buf_get_u16(&b, &out->recipient)) != SIGIL_OK)
        goto fail;
    if (out->sender == 0 || out->sender > SIGIL_ECDSA_MAX_PARTIES ||
        out->recipient > SIGIL_ECDSA_MAX_PARTIES || out->recipient == out->sender) {
        rc = SIGIL_E_PARTICIPANT;
        goto fail;
    }
    if ((rc = sigil_buf_get_u32(&b, &len)) != SIGIL_OK)
        goto fail;
    if (len > SIGIL_ECDSA_MAX_PAYLOAD) {
        rc = SIGIL_E_TOO_LARGE;
        goto fail;
    }
    if ((rc = sigil_buf_get_ptr(&b, len, &out->payload)) != SIGIL_OK)
        goto fail;
    out->payload_len = len;
    if ((rc = sigil_buf_end(&b)) != SIGIL_OK)
        goto fail;
    return SIGIL_OK;
fail:
    memset(out, 0, sizeof *out);
    return rc;
}
