/* Test-vector runners, one per format; each is a sigil-vectors subcommand
 * (argv[0] is the subcommand name, the rest are files). Exit status 0 when
 * every file matches, 1 on the first differing field (named on stderr),
 * 2 on usage or unreadable input. */
#ifndef SIGIL_VECTORS_H
#define SIGIL_VECTORS_H

int sigil_vectors_frost(int argc, char **argv);
int sigil_vectors_frost_dkg(int argc, char **argv);

#endif
