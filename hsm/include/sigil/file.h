/* sigil_file: durable, atomic state files for the node and the coordinator.
 *
 * sigil_file_write_atomic replaces a file so that after a crash at any
 * instant the path holds either the complete old contents or the complete
 * new contents, never a mix or a prefix: the data go to a temporary file in
 * the same directory (".<name>.tmp.XXXXXX"), which is written in full,
 * fsync'ed, renamed over the path, and then the directory is fsync'ed so
 * the rename itself is durable. A crash may leave a stray temporary file,
 * which is never read as state (sigil_file_clean_temps removes them).
 *
 * Functions return SIGIL_OK, SIGIL_E_INVALID, SIGIL_E_IO, SIGIL_E_NOT_FOUND
 * (read of a missing file), SIGIL_E_TOO_LARGE or SIGIL_E_NOMEM. */
#ifndef SIGIL_FILE_H
#define SIGIL_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sigil/buf.h"

/* Atomically replace path with n bytes of data, created with permission
 * bits mode (e.g. 0600). On failure the old file (if any) is untouched and
 * the temporary file removed. */
int sigil_file_write_atomic(const char *path, const void *data, size_t n, mode_t mode);

/* Read the whole file at path (at most max bytes, SIGIL_E_TOO_LARGE if
 * larger) and append it to out. */
int sigil_file_read(const char *path, size_t max, sigil_buf *out);

/* Remove temporary files that an interrupted sigil_file_write_atomic of
 * path left behind (call at startup, before any writer runs). *removed, if
 * not NULL, receives how many were removed. */
int sigil_file_clean_temps(const char *path, unsigned *removed);

#endif
