/* sigil_file: atomic state files. Includes a real crash test: a child
 * process rewriting the file is SIGKILLed at random moments, and the file
 * must always hold one complete version. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/file.h"

static char dir[] = "/tmp/sigil-file-XXXXXX";

static void rm_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
}

static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* 1 if buf is exactly len bytes of c. */
static int all(const sigil_buf *b, size_t len, uint8_t c)
{
    if (b->size != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (b->data[i] != c)
            return 0;
    return 1;
}

static void basic(const char *path)
{
    sigil_buf b;
    sigil_buf_init(&b, 1 << 20, 0);
    CHECK_EQ(sigil_file_read(path, 1 << 20, &b), SIGIL_E_NOT_FOUND);
    CHECK_EQ(sigil_file_write_atomic(path, "hello", 5, 0600), SIGIL_OK);
    CHECK_EQ(sigil_file_read(path, 1 << 20, &b), SIGIL_OK);
    CHECK(b.size == 5 && !memcmp(b.data, "hello", 5));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);

    /* replace with different length, then with empty */
    sigil_buf_reset(&b);
    CHECK_EQ(sigil_file_write_atomic(path, "hi", 2, 0640), SIGIL_OK);
    CHECK_EQ(sigil_file_read(path, 1 << 20, &b), SIGIL_OK);
    CHECK(b.size == 2 && !memcmp(b.data, "hi", 2));
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
    sigil_buf_reset(&b);
    CHECK_EQ(sigil_file_write_atomic(path, NULL, 0, 0600), SIGIL_OK);
    CHECK_EQ(sigil_file_read(path, 1 << 20, &b), SIGIL_OK);
    CHECK_EQ(b.size, 0);
    CHECK_EQ(count_temps(), 0);

    /* size limit on read, and out unchanged */
    CHECK_EQ(sigil_file_write_atomic(path, "0123456789", 10, 0600), SIGIL_OK);
    sigil_buf_reset(&b);
    CHECK_EQ(sigil_file_read(path, 9, &b), SIGIL_E_TOO_LARGE);
    CHECK_EQ(b.size, 0);

    /* bad arguments */
    CHECK_EQ(sigil_file_write_atomic(NULL, "x", 1, 0600), SIGIL_E_INVALID);
    CHECK_EQ(sigil_file_write_atomic("", "x", 1, 0600), SIGIL_E_INVALID);
    CHECK_EQ(sigil_file_write_atomic(path, NULL, 1, 0600), SIGIL_E_INVALID);
    CHECK_EQ(sigil_file_write_atomic(path, "x", 1, 010000), SIGIL_E_INVALID);
    CHECK_EQ(sigil_file_write_atomic("/nonexistent-dir-sigil/x", "x", 1, 0600), SIGIL_E_IO);
    /* a directory cannot be replaced by a file: old state stays, no temp left */
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/subdir", dir);
    REQUIRE(mkdir(sub, 0700) == 0);
    CHECK_EQ(sigil_file_write_atomic(sub, "x", 1, 0600), SIGIL_E_IO);
    CHECK_EQ(count_temps(), 0);
    rmdir(sub);
    sigil_buf view;
    sigil_buf_view(&view, (const uint8_t *)"x", 1);
    CHECK_EQ(sigil_file_read(path, 10, &view), SIGIL_E_INVALID);
    sigil_buf_free(&b);
}

/* A writer that died between creating its temp file and the rename leaves
 * a partial temp file: the state file still reads complete, the temp file
 * is never read as state, and clean_temps removes it (and only it). */
static void stale_temp(const char *path)
{
    REQUIRE(sigil_file_write_atomic(path, "complete-v1", 11, 0600) == SIGIL_OK);
    char tmp[512], other[512];
    const char *base = strrchr(path, '/') + 1;
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.AbC123", dir, base);
    snprintf(other, sizeof(other), "%s/.%s.tmp.keep", dir, base); /* not a mkstemp name */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "compl", 5) == 5);
    close(fd);
    fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    close(fd);

    sigil_buf b;
    sigil_buf_init(&b, 1024, 0);
    CHECK_EQ(sigil_file_read(path, 1024, &b), SIGIL_OK);
    CHECK(b.size == 11 && !memcmp(b.data, "complete-v1", 11));
    /* a new write succeeds beside the stale temp */
    CHECK_EQ(sigil_file_write_atomic(path, "complete-v2", 11, 0600), SIGIL_OK);
    sigil_buf_reset(&b);
    CHECK_EQ(sigil_file_read(path, 1024, &b), SIGIL_OK);
    CHECK(b.size == 11 && !memcmp(b.data, "complete-v2", 11));
    unsigned removed = 99;
    CHECK_EQ(sigil_file_clean_temps(path, &removed), SIGIL_OK);
    CHECK_EQ(removed, 1);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(access(other, F_OK) == 0);
    unlink(other);
    sigil_buf_reset(&b);
    CHECK_EQ(sigil_file_read(path, 1024, &b), SIGIL_OK);
    CHECK(b.size == 11 && !memcmp(b.data, "complete-v2", 11));
    sigil_buf_free(&b);
}

#define BIG (256 * 1024)

/* Kill a rewriting child at random moments; the state is always whole. */
static void crash(const char *path)
{
    uint8_t *a = malloc(BIG), *c = malloc(BIG);
    REQUIRE(a && c);
    memset(a, 'A', BIG);
    memset(c, 'C', BIG);
    REQUIRE(sigil_file_write_atomic(path, a, BIG, 0600) == SIGIL_OK);
    int whole = 0, kills = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            for (unsigned i = 0;; i++)
                if (sigil_file_write_atomic(path, i & 1 ? a : c, BIG, 0600) != SIGIL_OK)
                    _exit(3);
        }
        struct timespec ts = {0, (long)(1 + randombytes_uniform(15)) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        kills += WIFSIGNALED(st);
        sigil_buf b;
        sigil_buf_init(&b, 2 * BIG, 0);
        CHECK_EQ(sigil_file_read(path, 2 * BIG, &b), SIGIL_OK);
        int ok = all(&b, BIG, 'A') || all(&b, BIG, 'C');
        CHECK(ok);
        whole += ok;
        sigil_buf_free(&b);
        CHECK_EQ(sigil_file_clean_temps(path, NULL), SIGIL_OK);
        CHECK_EQ(count_temps(), 0);
    }
    printf("crash test: %d kills, %d/12 reads whole\n", kills, whole);
    CHECK_EQ(kills, 12);
    free(a);
    free(c);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    REQUIRE(mkdtemp(dir) != NULL);
    atexit(rm_dir);
    char path[256];
    snprintf(path, sizeof(path), "%s/state.bin", dir);
    basic(path);
    stale_temp(path);
    crash(path);
    rm_dir();
    return check_done();
}
