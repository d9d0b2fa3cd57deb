/* Diagnostic only (bench/E2E-RESULTS.md, "Nagle"): an LD_PRELOAD shim that sets
 * TCP_NODELAY on every accepted socket, to test whether a server's latency comes from
 * Nagle's algorithm without changing its code.
 *   gcc -shared -fPIC -O2 -o /tmp/nodelay.so bench/diag/nodelay.c -ldl
 *   LD_PRELOAD=/tmp/nodelay.so target/release/switchboard serve ...                      */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
    int one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on non-TCP */
}

int accept4(int s, struct sockaddr *a, socklen_t *l, int flags) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    int fd = real(s, a, l, flags);
    nodelay(fd);
    return fd;
}

int accept(int s, struct sockaddr *a, socklen_t *l) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    int fd = real(s, a, l);
    nodelay(fd);
    return fd;
}
