/* sigil-hsm: provision and inspect a node's (or the coordinator's) token. */
#include "sigil/hsm_cli.h"
#include "tool.h"

static const sigil_tool_cmd cmds[] = {
    {"provision", sigil_hsm_cmd_provision, "create the sealing key and an Ed25519 identity key"},
    {"pubkey", sigil_hsm_cmd_pubkey, "print an Ed25519 public key from the token (hex)"},
    {"check", sigil_hsm_cmd_check, "verify key protection and run a seal/unseal/sign self-test"},
    {"bench", sigil_hsm_cmd_bench, "measure seal/unseal/sign rates and unseal latency"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return sigil_tool_dispatch(
        "sigil-hsm",
        "Provision and inspect a Sigil PKCS#11 token (SoftHSMv2 or a real HSM).\n"
        "A token holds one AES-256 sealing key (label sigil-seal, never extractable)\n"
        "that seals the node's key shares, and Ed25519 keys: the node identity\n"
        "(label sigil-identity) or the coordinator's audit-log key.\n\n"
        "Typical use, with a throwaway SoftHSM token:\n"
        "  eval \"$(scripts/softhsm-token /tmp/hsm node1)\"\n"
        "  sigil-hsm provision --token node1 --pin-file /tmp/hsm/node1.pin\n"
        "  sigil-hsm check     --token node1 --pin-file /tmp/hsm/node1.pin",
        cmds, argc, argv);
}
