int sigil_bench_audit(int argc, char **argv); int sigil_bench_audit(int argc, char **argv){(void)argc;(void)argv;return 0;}
