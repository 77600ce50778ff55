/* myapp.com/my-socket-activated-app: serves HTTP only on the socket systemd passes.
 *
 * It never binds a port itself, so an answer proves socket activation worked:
 * LISTEN_FDS/LISTEN_PID reached it through rkt, nspawn and the pod's systemd. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (fds == NULL || atoi(fds) < 1 || pid == NULL || atoi(pid) != (int)getpid()) {
        fprintf(stderr, "my-socket-activated-app: no socket passed (LISTEN_FDS=%s LISTEN_PID=%s)\n",
                fds ? fds : "", pid ? pid : "");
        return 3;
    }
    printf("my-socket-activated-app: serving on the passed socket (fd 3, %s fd(s))\n", fds);
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    for (unsigned long served = 1;; served++) {
        int conn = accept(3, NULL, NULL);
        if (conn < 0)
            continue;
        struct pollfd request = {.fd = conn, .events = POLLIN};
        char buf[2048];
        if (poll(&request, 1, 1000) > 0)
            (void)read(conn, buf, sizeof buf); /* the request itself does not matter */
        char body[128];
        int len = snprintf(body, sizeof body,
                           "Hello from my-socket-activated-app (pid %d, connection %lu)\n",
                           (int)getpid(), served);
        dprintf(conn, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                len, body);
        close(conn);
    }
}
