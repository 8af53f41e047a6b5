/* sigil_file: atomic replacement of state files (see sigil/file.h). */
#include "sigil/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigil/err.h"

#define TMP_MARK ".tmp."

/* Split path into its directory and base name (both malloc'ed). */
static int split(const char *path, char **dir, char **base)
{
    char *a = strdup(path), *b = strdup(path);
    if (!a || !b) {
        free(a);
        free(b);
        return SIGIL_E_NOMEM;
    }
    char *d = strdup(dirname(a)), *n = strdup(basename(b));
    free(a);
    free(b);
    if (!d || !n) {
        free(d);
        free(n);
        return SIGIL_E_NOMEM;
    }
    *dir = d;
    *base = n;
    return SIGIL_OK;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SIGIL_E_IO;
    int r;
    do
        r = fsync(fd);
    while (r < 0 && errno == EINTR);
    close(fd);
    return r == 0 ? SIGIL_OK : SIGIL_E_IO;
}

int sigil_file_write_atomic(const char *path, const void *data, size_t n, mode_t mode)
{
    if (!path || !*path || (!data && n) || (mode & ~07777))
        return SIGIL_E_INVALID;
    char *dir, *base;
    int rc = split(path, &dir, &base);
    if (rc != SIGIL_OK)
        return rc;
    if (!strcmp(base, "/") || !strcmp(base, ".") || !strcmp(base, "..")) {
        free(dir);
        free(base);
        return SIGIL_E_INVALID;
    }
    size_t tl = strlen(dir) + strlen(base) + sizeof("/." TMP_MARK "XXXXXX");
    char *tmp = malloc(tl);
    if (!tmp) {
        free(dir);
        free(base);
        return SIGIL_E_NOMEM;
    }
    snprintf(tmp, tl, "%s/.%s" TMP_MARK "XXXXXX", dir, base);
    int fd = mkstemp(tmp);
    if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        close(fd);
        unlink(tmp);
        fd = -1;
    }
    if (fd < 0) {
        rc = SIGIL_E_IO;
        goto out;
    }
    rc = SIGIL_E_IO;
    if (fchmod(fd, mode) != 0)
        goto fail;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const uint8_t *)data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        off += (size_t)w;
    }
    int r;
    do
        r = fsync(fd);
    while (r < 0 && errno == EINTR);
    if (r != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    rc = fsync_dir(dir);
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    free(tmp);
    free(dir);
    free(base);
    return rc;
}

int sigil_file_read(const char *path, size_t max, sigil_buf *out)
{
    if (!path || !out || max == 0 || (out->flags & SIGIL_BUF_READONLY))
        return SIGIL_E_INVALID;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SIGIL_E_NOT_FOUND : SIGIL_E_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return SIGIL_E_IO;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return SIGIL_E_TOO_LARGE;
    }
    size_t start = out->size, n = (size_t)st.st_size, off = 0;
    uint8_t *p = NULL;
    int rc = n ? sigil_buf_reserve(out, n, &p) : SIGIL_OK;
    if (rc != SIGIL_OK) {
        close(fd);
        return rc;
    }
    while (off < n) {
        ssize_t r = read(fd, p + off, n - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = SIGIL_E_IO; /* error, or the file shrank under us */
            break;
        }
        off += (size_t)r;
    }
    close(fd);
    if (rc != SIGIL_OK) {
        memset(out->data + start, 0, n);
        out->size = start;
    }
    return rc;
}

int sigil_file_clean_temps(const char *path, unsigned *removed)
{
    if (removed)
        *removed = 0;
    if (!path || !*path)
        return SIGIL_E_INVALID;
    char *dir, *base;
    int rc = split(path, &dir, &base);
    if (rc != SIGIL_OK)
        return rc;
    size_t pl = strlen(base) + sizeof("." TMP_MARK);
    char *prefix = malloc(pl);
    DIR *d = prefix ? opendir(dir) : NULL;
    if (!prefix || !d) {
        rc = prefix ? SIGIL_E_IO : SIGIL_E_NOMEM;
        goto out;
    }
    snprintf(prefix, pl, ".%s" TMP_MARK, base);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* exactly the names mkstemp made: prefix + 6 characters */
        if (strncmp(e->d_name, prefix, pl - 1) != 0 || strlen(e->d_name) != pl - 1 + 6)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0) {
            rc = SIGIL_E_IO;
            continue;
        }
        if (removed)
            (*removed)++;
    }
    closedir(d);
    if (rc == SIGIL_OK)
        rc = fsync_dir(dir);
out:
    free(prefix);
    free(dir);
    free(base);
    return rc;
}
