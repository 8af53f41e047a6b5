/* sigil-sim: all parties of a protocol in one process. */
#include "sim.h"
#include "tool.h"

static const sigil_tool_cmd cmds[] = {
    {"frost-ed25519", sigil_sim_frost, "FROST(Ed25519, SHA-512): DKG then K signatures"},
    {"frost-secp256k1", sigil_sim_frost, "FROST(secp256k1, SHA-256): DKG then K signatures"},
    {"frost-bip340", sigil_sim_frost, "FROST with BIP-340 conventions: DKG then K signatures"},
    {"ecdsa", sigil_sim_ecdsa, "DKLs23 threshold ECDSA: DKG + OT setup then K signatures"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return sigil_tool_dispatch("sigil-sim", "Run every party of a protocol in one process.", cmds, argc, argv);
}
