/* Scope-bound cleanup helpers (systemd style): a variable declared with
 * _cleanup_free_ is freed when it goes out of scope, so every early return
 * releases what it must.  Use *_steal() to hand ownership out. */
#ifndef LMNET_AGENT_CLEANUP_H
#define LMNET_AGENT_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <json-c/json.h>

static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_json_putp(struct json_object **p) { json_object_put(*p); }
static inline void cleanup_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void cleanup_fclosep(FILE **f) { if (*f) fclose(*f); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_json_ _cleanup_(cleanup_json_putp)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)

/* Returns *p and sets *p to NULL: ownership leaves the cleanup scope. */
#define steal_pointer(p) ({ __typeof__(*(p)) steal_tmp_ = *(p); *(p) = NULL; steal_tmp_; })
#define steal_fd(p) ({ int steal_fd_ = *(p); *(p) = -1; steal_fd_; })

#endif
