/* sigil-vectors: runs published test vectors through Sigil's libraries. */
#include "tool.h"
#include "vectors.h"

static const sigil_tool_cmd cmds[] = {
    {"frost", sigil_vectors_frost, "RFC 9591 FROST vectors (JSON, appendix E format)"},
    {"frost-dkg", sigil_vectors_frost_dkg, "FROST DKG vectors (JSON, ZF FROST dkg format)"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return sigil_tool_dispatch("sigil-vectors", "Run published test vectors through Sigil.", cmds, argc, argv);
}
