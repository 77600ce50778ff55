/* exit-watch PORT: tell the harness when guest processes it started have exited.
 *
 * The harness runs commands through qemu-guest-agent, which can only be asked whether
 * a command has ended (guest-exec-status). Asked 20 times a second, that cost the guest
 * about 4% of its CPU under TCG (the agent logs every call to the journal), and each
 * command up to 50 ms before its end was seen. Instead the harness writes a command's
 * pid, a line of decimal digits, to this program's virtio-serial PORT, and this program
 * writes the same line back once that process has exited: at once if it is already
 * gone, or if it cannot be watched (the harness then asks the agent as before).
 *
 * A pidfd (Linux >= 5.3) becomes readable when its process exits, whether or not the
 * agent has reaped it yet; a process already reaped cannot be opened (ESRCH), and is
 * answered at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_WATCHED 64

static int port;

static void answer(long pid)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", pid);
    /* Blocks while the host is not connected: it asked, so it is, or it is gone. */
    if (write(port, line, (size_t)n) != n) {
        perror("exit-watch: write");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct pollfd fds[1 + MAX_WATCHED];
    long pids[1 + MAX_WATCHED];
    char buffer[4096];
    size_t have = 0;
    int watched = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: exit-watch PORT\n");
        return 2;
    }
    port = open(argv[1], O_RDWR | O_CLOEXEC);
    if (port < 0) {
        perror(argv[1]);
        return 1;
    }
    for (;;) {
        fds[0].fd = port;
        fds[0].events = POLLIN;
        if (poll(fds, 1 + watched, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("exit-watch: poll");
            return 1;
        }
        for (int i = watched; i >= 1; i--) {
            if (fds[i].revents) {
                answer(pids[i]);
                close(fds[i].fd);
                fds[i] = fds[watched];
                pids[i] = pids[watched];
                watched--;
            }
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = read(port, buffer + have, sizeof buffer - have);
        if (got < 0 && errno != EINTR && errno != EAGAIN) {
            perror("exit-watch: read");
            return 1;
        }
        if (got <= 0) {
            /* No host on the port (before the harness connects): the port polls
               readable and reads end-of-file at once, so look again a little later. */
            poll(fds + 1, watched, 10);
            continue;
        }
        have += (size_t)got;
        char *start = buffer, *end;
        while ((end = memchr(start, '\n', have - (size_t)(start - buffer))) != NULL) {
            *end = '\0';
            long pid = strtol(start, NULL, 10);
            int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1;
            if (fd < 0 || watched == MAX_WATCHED) {
                if (fd >= 0)
                    close(fd);
                answer(pid);
            } else {
                watched++;
                fds[watched].fd = fd;
                fds[watched].events = POLLIN;
                pids[watched] = pid;
            }
            start = end + 1;
        }
        have -= (size_t)(start - buffer);
        memmove(buffer, start, have);
        if (have == sizeof buffer)
            have = 0; /* a line longer than the buffer is not a pid */
    }
}
