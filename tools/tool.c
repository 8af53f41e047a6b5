#include "tool.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f, const char *tool, const char *about, const sigil_tool_cmd *cmds)
{
    fprintf(f, "usage: %s COMMAND [OPTIONS]\n\n%s\n\ncommands:\n", tool, about);
    for (const sigil_tool_cmd *c = cmds; c->name; c++)
        fprintf(f, "  %-18s %s\n", c->name, c->summary);
    fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", tool);
}

int sigil_tool_dispatch(const char *tool, const char *about, const sigil_tool_cmd *cmds,
                        int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout, tool, about, cmds);
        return argc < 2 ? 2 : 0;
    }
    for (const sigil_tool_cmd *c = cmds; c->name; c++)
        if (!strcmp(c->name, argv[1]))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n\n", tool, argv[1]);
    usage(stderr, tool, about, cmds);
    return 2;
}
