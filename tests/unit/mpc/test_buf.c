#include <string.h>

#include <sodium.h>

#include "check.h"
#include "sigil/buf.h"
#include "sigil/err.h"

static void test_roundtrip(void)
{
    sigil_buf b, v;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *p;
    size_t n;

    REQUIRE(sigil_buf_init(&b, 1024, 0) == SIGIL_OK);
    CHECK_EQ(sigil_buf_put_u8(&b, 0xab), SIGIL_OK);
    CHECK_EQ(sigil_buf_put_u16(&b, 0x1234), SIGIL_OK);
    CHECK_EQ(sigil_buf_put_u32(&b, 0xdeadbeef), SIGIL_OK);
    CHECK_EQ(sigil_buf_put_u64(&b, 0x0102030405060708ull), SIGIL_OK);
    CHECK_EQ(sigil_buf_put_string(&b, "hello", 5), SIGIL_OK);
    CHECK_EQ(sigil_buf_len(&b), 1 + 2 + 4 + 8 + 4 + 5);
    CHECK(memcmp(sigil_buf_ptr(&b) + 1, "\x12\x34\xde\xad\xbe\xef", 6) == 0);

    sigil_buf_view(&v, sigil_buf_ptr(&b), sigil_buf_len(&b));
    CHECK_EQ(sigil_buf_get_u8(&v, &u8), SIGIL_OK);
    CHECK_EQ(u8, 0xab);
    CHECK_EQ(sigil_buf_get_u16(&v, &u16), SIGIL_OK);
    CHECK_EQ(u16, 0x1234);
    CHECK_EQ(sigil_buf_get_u32(&v, &u32), SIGIL_OK);
    CHECK_EQ(u32, 0xdeadbeef);
    CHECK_EQ(sigil_buf_get_u64(&v, &u64), SIGIL_OK);
    CHECK(u64 == 0x0102030405060708ull);
    CHECK_EQ(sigil_buf_end(&v), SIGIL_E_TRAILING);
    CHECK_EQ(sigil_buf_get_string(&v, 4, &p, &n), SIGIL_E_TOO_LARGE);
    CHECK_EQ(sigil_buf_get_string(&v, 5, &p, &n), SIGIL_OK);
    CHECK(n == 5 && memcmp(p, "hello", 5) == 0);
    CHECK_EQ(sigil_buf_end(&v), SIGIL_OK);
    CHECK_EQ(sigil_buf_get_u8(&v, &u8), SIGIL_E_TRUNCATED);
    CHECK_EQ(sigil_buf_put_u8(&v, 1), SIGIL_E_INVALID);
    sigil_buf_free(&b);
}

static void test_limits(void)
{
    sigil_buf b, v;
    uint8_t big[100] = {0};
    uint32_t u32;
    const uint8_t *p;
    size_t n;

    CHECK_EQ(sigil_buf_init(&b, 0, 0), SIGIL_E_INVALID);
    CHECK_EQ(sigil_buf_init(&b, SIGIL_BUF_MAX_LIMIT + 1, 0), SIGIL_E_INVALID);
    REQUIRE(sigil_buf_init(&b, 10, SIGIL_BUF_SECRET) == SIGIL_OK);
    CHECK_EQ(sigil_buf_put(&b, big, 11), SIGIL_E_TOO_LARGE);
    CHECK_EQ(sigil_buf_len(&b), 0);
    CHECK_EQ(sigil_buf_put(&b, big, 10), SIGIL_OK);
    CHECK_EQ(sigil_buf_put_u8(&b, 0), SIGIL_E_TOO_LARGE);
    sigil_buf_free(&b);
    sigil_buf_free(&b); /* idempotent */

    /* Truncated reads leave the offset alone. */
    sigil_buf_view(&v, (const uint8_t *)"\x00\x00\x00\x09" "abc", 7);
    CHECK_EQ(sigil_buf_get_string(&v, 100, &p, &n), SIGIL_E_TRUNCATED);
    CHECK_EQ(sigil_buf_len(&v), 7);
    CHECK_EQ(sigil_buf_get_u32(&v, &u32), SIGIL_OK);
    CHECK_EQ(sigil_buf_get_u32(&v, &u32), SIGIL_E_TRUNCATED);
    CHECK_EQ(sigil_buf_len(&v), 3);
    /* A huge declared length is refused, not trusted. */
    sigil_buf_view(&v, (const uint8_t *)"\xff\xff\xff\xff", 4);
    CHECK_EQ(sigil_buf_get_string(&v, SIGIL_BUF_MAX_LIMIT, &p, &n), SIGIL_E_TOO_LARGE);
    sigil_buf_view(&v, NULL, 0);
    CHECK_EQ(sigil_buf_end(&v), SIGIL_OK);
    CHECK_EQ(sigil_buf_get_ptr(&v, 1, &p), SIGIL_E_TRUNCATED);
}

static void test_memeq(void)
{
    CHECK(sigil_memeq("abc", "abc", 3));
    CHECK(!sigil_memeq("abc", "abd", 3));
    CHECK(sigil_memeq("", "", 0));
}

static void test_errors(void)
{
    CHECK(strcmp(sigil_errname(SIGIL_E_POINT), "SIGIL_E_POINT") == 0);
    CHECK(strcmp(sigil_strerror(SIGIL_OK), "success") == 0);
    CHECK(strcmp(sigil_strerror(-1000), "unknown error") == 0);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    test_roundtrip();
    test_limits();
    test_memeq();
    test_errors();
    return check_done();
}
