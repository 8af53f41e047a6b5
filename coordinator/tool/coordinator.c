/* sigil-coordinator: the daemon. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sigil/coord.h"
#include "sigil/err.h"

static const char usage_text[] =
    "usage: sigil-coordinator --config FILE [--port-file FILE]\n"
    "       sigil-coordinator check-config FILE\n"
    "\n"
    "Serves the wallet API (ListKeys, GetPublicKey, Sign, SignBatch) and the admin API\n"
    "(Halt, Resume, Status, Health, Keygen) over mTLS and drives the signer nodes.\n"
    "The configuration (JSON) is documented in docs/modules/coordinator.md. SIGTERM or SIGINT\n"
    "shuts down cleanly. On start it prints one line: \"listening on PORT\".\n";

int main(int argc, char **argv)
{
    const char *config = NULL, *port_file = NULL;
    sigil_coord_config cfg;
    sigil_coord *c = NULL;
    char err[256];
    sigset_t set;
    int rc, port = 0, sig;

    if (argc == 3 && !strcmp(argv[1], "check-config")) {
        rc = sigil_coord_config_load(argv[2], &cfg, err, sizeof err);
        if (rc) {
            fprintf(stderr, "sigil-coordinator: %s: %s\n", argv[2], err);
            return 1;
        }
        printf("%s: ok (%zu nodes, %zu rules, %zu officers, k=%u)\n", argv[2], cfg.num_nodes,
               cfg.num_rules, cfg.num_officers, cfg.approvals_required);
        sigil_coord_config_free(&cfg);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
            port_file = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (!config) {
        fputs(usage_text, stderr);
        return 2;
    }
    if ((rc = sigil_coord_config_load(config, &cfg, err, sizeof err))) {
        fprintf(stderr, "sigil-coordinator: %s: %s\n", config, err);
        return 1;
    }
    /* block the stop signals in every thread; main waits for them */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = sigil_coord_new(&cfg, &c)) || (rc = sigil_coord_start(c, &port))) {
        fprintf(stderr, "sigil-coordinator: cannot start: %s (%s)\n", sigil_strerror(rc),
                sigil_errname(rc));
        sigil_coord_free(c);
        sigil_coord_config_free(&cfg);
        return 1;
    }
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
        }
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    sigwait(&set, &sig);
    fprintf(stderr, "sigil-coordinator: signal %d, shutting down\n", sig);
    sigil_coord_free(c);
    sigil_coord_config_free(&cfg);
    return 0;
}
