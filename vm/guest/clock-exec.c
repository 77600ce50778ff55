/* clock-exec SECONDS.NNNNNNNNN COMMAND [ARG...]: set the clock, then become COMMAND.
 *
 * The harness's first command in a restored VM goes through this: the guest wakes at
 * the time its state was saved, and the host's time travels in argv. Under emulation a
 * static binary costs one cheap exec where `sh -c 'date -s ...; exec "$@"'` costs three
 * dynamically linked ones. Exit 125 with a message on stderr when the clock is not set. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAILED 125

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "clock-exec: setting the clock failed: "
                        "usage: clock-exec SECONDS.NNNNNNNNN COMMAND [ARG...]\n");
        return FAILED;
    }
    char *end;
    struct timespec now = {0};
    errno = 0;
    now.tv_sec = strtoll(argv[1], &end, 10);
    const char *fraction = end + 1;
    if (errno == 0 && *end == '.' && strlen(fraction) == 9 && fraction[0] != '-')
        now.tv_nsec = strtol(fraction, &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0') {
        fprintf(stderr, "clock-exec: setting the clock failed: bad time %s\n", argv[1]);
        return FAILED;
    }
    if (clock_settime(CLOCK_REALTIME, &now) != 0) {
        fprintf(stderr, "clock-exec: setting the clock failed: %s\n", strerror(errno));
        return FAILED;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "clock-exec: %s: %s\n", argv[2], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
