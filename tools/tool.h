/* Shared shape of Sigil's multi-command tools (sigil-bench, sigil-sim,
 * sigil-vectors): a table of subcommands, each a main-like function that
 * lives with the module it exercises. */
#ifndef SIGIL_TOOL_H
#define SIGIL_TOOL_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
} sigil_tool_cmd;

/* Find argv[1] in cmds and run it; print usage (with every summary) on
 * --help, a missing or an unknown subcommand. Returns the exit status. */
int sigil_tool_dispatch(const char *tool, const char *about, const sigil_tool_cmd *cmds,
                        int argc, char **argv);

#endif
