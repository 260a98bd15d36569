/* See pthread.h: OpenH264's single-threaded wasm32 build; semaphores never block. */
#ifndef SIGHTLINE_SEMAPHORE_SHIM_H
#define SIGHTLINE_SEMAPHORE_SHIM_H
struct timespec;
typedef struct { int unused; } sem_t;
static inline int sem_post(sem_t *s) { (void)s; return 0; }
static inline int sem_wait(sem_t *s) { (void)s; return 0; }
static inline int sem_timedwait(sem_t *s, const struct timespec *t) { (void)s; (void)t; return 0; }
#endif
