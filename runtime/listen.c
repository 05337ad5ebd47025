/*  listen: listening sockets from config addresses (see listen.h).  */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
s_unix(const char *path, int backlog, int type, char *err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, FP_ERR_LEN, "listen %s: path too long", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    unlink(path);
    int fd = socket(AF_UNIX, type, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
        listen(fd, backlog) < 0) {
        snprintf(err, FP_ERR_LEN, "listen %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int
fp_listen_open(const char *addr, int backlog, int flags, char *err)
{
    char host[256], *port;
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE }, *res = NULL;
    int fd = -1, one = 1;
    int type = SOCK_STREAM | SOCK_CLOEXEC |
               (flags & FP_LISTEN_NONBLOCK ? SOCK_NONBLOCK : 0);

    if ((flags & FP_LISTEN_UNIX) && addr[0] == '/')
        return s_unix(addr, backlog, type, err);
    snprintf(host, sizeof host, "%s", addr);
    port = strrchr(host, ':');
    if (!port) {
        snprintf(err, FP_ERR_LEN, "listen: '%s' is not HOST:PORT", addr);
        return -1;
    }
    *port++ = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    int rc = getaddrinfo(h[0] ? h : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, FP_ERR_LEN, "listen %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, type, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        ((flags & FP_LISTEN_REUSEPORT) &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        listen(fd, backlog) < 0) {
        snprintf(err, FP_ERR_LEN, "listen %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

#ifdef FP_TEST
#include "test.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>

/*  The port fd listens on, or -1.  */
static int
s_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *) &ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    return -1;
}

void
fp_listen_test(void)
{
    char err[FP_ERR_LEN], dir[] = "/tmp/fp-unit-XXXXXX", path[64], addr[64];
    FP_CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/s.sock", dir);

    int fd = fp_listen_open(path, 8, FP_LISTEN_UNIX, err);
    int again = fp_listen_open(path, 8, FP_LISTEN_UNIX, err);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int peer = socket(AF_UNIX, SOCK_STREAM, 0);
    FP_CHECK(fd >= 0 && again >= 0 &&
             connect(peer, (struct sockaddr *) &sa, sizeof sa) == 0,
             "a unix socket; a stale file at the path is replaced");
    FP_CHECK(!(fcntl(again, F_GETFL) & O_NONBLOCK) &&
             (fcntl(again, F_GETFD) & FD_CLOEXEC), "blocking, close-on-exec");
    close(peer);
    close(fd);
    close(again);
    unlink(path);
    FP_CHECK(fp_listen_open(path, 8, 0, err) < 0 &&
             strstr(err, "not HOST:PORT"), "a path without FP_LISTEN_UNIX "
             "is refused");
    snprintf(path, sizeof path, "%s/missing/s.sock", dir);
    FP_CHECK(fp_listen_open(path, 8, FP_LISTEN_UNIX, err) < 0 &&
             strstr(err, path) && strstr(err, "No such file"),
             "a path that cannot be bound: -1 with err");
    rmdir(dir);

    fd = fp_listen_open("127.0.0.1:0", 8, FP_LISTEN_NONBLOCK, err);
    int port = fd >= 0 ? s_port(fd) : -1;
    FP_CHECK(port > 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "TCP on a "
             "loopback port, non-blocking");
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    FP_CHECK(fp_listen_open(addr, 8, 0, err) < 0 &&
             strstr(err, "Address already in use"), "a port in use: -1 with "
             "err");
    close(fd);
    fd = fp_listen_open(addr, 8, FP_LISTEN_REUSEPORT, err);
    again = fp_listen_open(addr, 8, FP_LISTEN_REUSEPORT, err);
    FP_CHECK(fd >= 0 && again >= 0, "FP_LISTEN_REUSEPORT: two share a port");
    close(fd);
    close(again);
    fd = fp_listen_open("[::1]:0", 8, 0, err);
    FP_CHECK(fd >= 0 || strstr(err, "listen [::1]:0"), "[V6]:PORT");
    if (fd >= 0)
        close(fd);
    fd = fp_listen_open(":0", 8, 0, err);
    FP_CHECK(fd >= 0 && s_port(fd) > 0, ":PORT: every address");
    if (fd >= 0)
        close(fd);
    FP_CHECK(fp_listen_open("localhost", 8, 0, err) < 0 &&
             strstr(err, "not HOST:PORT"), "no port refused");
}
#endif
