/* scripts/softhsm-token and the sigil-hsm CLI, run as separate processes
 * the way an operator (or the ceremony) runs them, on a throwaway token. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/hsm.h"

static char dir[] = "/tmp/sigil-hsmcli-XXXXXX";

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove the temporary tokens however the test ends (REQUIRE exits too). */
static void cleanup(void)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run cmd through the shell; capture up to cap-1 bytes of stdout into out.
 * Returns the exit status (or -1). */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    REQUIRE(mkdtemp(dir) != NULL);
    atexit(cleanup);
    char cmd[2048], out[4096], pk_hex[128] = {0};

    /* the script prints exactly the env line, and makes 0600 PIN files */
    snprintf(cmd, sizeof(cmd), "'%s/softhsm-token' '%s' node1 2>/dev/null", SIGIL_SCRIPTS_DIR, dir);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    char want[1024];
    snprintf(want, sizeof(want), "export SOFTHSM2_CONF=%s/softhsm2.conf\n", dir);
    CHECK(strcmp(out, want) == 0);
    char conf[600], pin[600];
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    snprintf(pin, sizeof(pin), "%s/node1.pin", dir);
    struct stat st;
    CHECK(stat(pin, &st) == 0 && (st.st_mode & 077) == 0);
    CHECK(stat(conf, &st) == 0 && (st.st_mode & 077) == 0);
    /* the same label twice is refused; a bad label is refused */
    CHECK(run(cmd, out, sizeof(out)) != 0);
    snprintf(cmd, sizeof(cmd), "'%s/softhsm-token' '%s' 'bad label' 2>/dev/null", SIGIL_SCRIPTS_DIR, dir);
    CHECK(run(cmd, out, sizeof(out)) != 0);
    /* given PINs are used */
    snprintf(cmd, sizeof(cmd), "'%s/softhsm-token' --pin 123456 --so-pin 654321 '%s' node2 2>/dev/null",
             SIGIL_SCRIPTS_DIR, dir);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    setenv("SOFTHSM2_CONF", conf, 1);

    /* --help teaches and exits 0 */
    snprintf(cmd, sizeof(cmd), "'%s' --help", SIGIL_HSM_TOOL);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strstr(out, "provision") && strstr(out, "softhsm-token"));
    snprintf(cmd, sizeof(cmd), "'%s' provision --help", SIGIL_HSM_TOOL);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strstr(out, "never extractable") && strstr(out, "--pin-file"));
    snprintf(cmd, sizeof(cmd), "'%s' provision 2>/dev/null", SIGIL_HSM_TOOL);
    CHECK_EQ(run(cmd, out, sizeof(out)), 2);

    /* provision prints the identity public key */
    snprintf(cmd, sizeof(cmd), "'%s' provision --token node1 --pin-file '%s' 2>/dev/null", SIGIL_HSM_TOOL, pin);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strlen(out) == 65 && out[64] == '\n');
    memcpy(pk_hex, out, 64);
    /* again: keys kept, same public key */
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strncmp(out, pk_hex, 64) == 0);
    snprintf(cmd, sizeof(cmd), "'%s' pubkey --token node1 --pin-file '%s' 2>/dev/null", SIGIL_HSM_TOOL, pin);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strncmp(out, pk_hex, 64) == 0);
    snprintf(cmd, sizeof(cmd), "'%s' check --token node1 --pin-file '%s' 2>/dev/null", SIGIL_HSM_TOOL, pin);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strstr(out, "tampered blob refused") && strstr(out, pk_hex));

    /* the coordinator's audit key, PIN from the environment */
    setenv("NODE2_PIN", "123456", 1);
    snprintf(cmd, sizeof(cmd), "'%s' provision --token node2 --pin-env NODE2_PIN --label sigil-audit 2>/dev/null",
             SIGIL_HSM_TOOL);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    CHECK(strlen(out) == 65 && strncmp(out, pk_hex, 64) != 0);

    /* failures: wrong PIN, missing token, missing key; the PIN never shows */
    setenv("NODE2_PIN", "wrong-pin-xyz", 1);
    snprintf(cmd, sizeof(cmd), "'%s' check --token node2 --pin-env NODE2_PIN 2>&1", SIGIL_HSM_TOOL);
    CHECK_EQ(run(cmd, out, sizeof(out)), 1);
    CHECK(strstr(out, "SIGIL_E_PERMISSION") && !strstr(out, "wrong-pin-xyz"));
    snprintf(cmd, sizeof(cmd), "'%s' check --token nosuch --pin-file '%s' 2>&1", SIGIL_HSM_TOOL, pin);
    CHECK_EQ(run(cmd, out, sizeof(out)), 1);
    CHECK(strstr(out, "SIGIL_E_NOT_FOUND") != NULL);
    snprintf(cmd, sizeof(cmd), "'%s' pubkey --token node1 --pin-file '%s' --label nokey 2>&1", SIGIL_HSM_TOOL, pin);
    CHECK_EQ(run(cmd, out, sizeof(out)), 1);
    CHECK(strstr(out, "SIGIL_E_NOT_FOUND") != NULL);

    /* the CLI's keys are usable from the library, and sign verifiably */
    sigil_hsm_config c = {NULL, "node1", pin, NULL, 0};
    sigil_hsm *h = NULL;
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_OK);
    if (h) {
        uint8_t pk[32], sig[64];
        char hex[65];
        CHECK_EQ(sigil_hsm_ed25519_pubkey(h, SIGIL_HSM_IDENTITY_LABEL, pk), SIGIL_OK);
        CHECK(strcmp(sodium_bin2hex(hex, sizeof(hex), pk, 32), pk_hex) == 0);
        CHECK_EQ(sigil_hsm_sign_ed25519(h, SIGIL_HSM_IDENTITY_LABEL, (const uint8_t *)"x", 1, sig), SIGIL_OK);
        CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"x", 1, pk) == 0);
        CHECK_EQ(sigil_hsm_create_seal_key(h), SIGIL_E_EXISTS);
        sigil_hsm_close(h);
    }

    cleanup();
    CHECK(access(dir, F_OK) != 0);
    return check_done();
}
