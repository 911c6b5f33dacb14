/* Test helper, run inside a container (tests/it/security.rs): tries to type into the terminal of
 * whoever started roost (TIOCSTI on fds 0-2 and on /dev/tty) and reports what it could see and do,
 * one `key=value` per line. Built static by tests/world.sh into the tools directory. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <errno.h>

static const char MARK[] = "roost-injected-input";

/* "ok" when every byte was pushed into the terminal's input, else why not. */
static const char *inject(int fd) {
    for (const char *p = MARK; *p; p++)
        if (ioctl(fd, TIOCSTI, p) < 0)
            return strerror(errno);
    return "ok";
}

int main(void) {
    char stat[512] = {0};
    int f = open("/proc/self/stat", O_RDONLY);
    if (f >= 0) {
        ssize_t n = read(f, stat, sizeof stat - 1);
        (void)n;
        close(f);
    }
    int pid, ppid, pgrp, session, tty_nr = -1;
    char state;
    char *rest = strrchr(stat, ')');
    if (rest && sscanf(rest + 1, " %c %d %d %d %d", &state, &ppid, &pgrp, &session, &tty_nr) == 5)
        pid = getpid();
    else
        pid = -1;
    printf("tty_nr=%d\n", tty_nr);
    printf("own_session=%d\n", pid >= 0 && session == pid);
    for (int fd = 0; fd <= 2; fd++) {
        char path[64], target[256] = {0};
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (readlink(path, target, sizeof target - 1) < 0)
            strcpy(target, "(closed)");
        printf("fd%d=%s\n", fd, target);
        printf("isatty%d=%d\n", fd, isatty(fd));
        printf("sti%d=%s\n", fd, inject(fd));
    }
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (tty < 0)
        printf("devtty=%s\n", strerror(errno));
    else
        printf("devtty=%s\n", inject(tty));
    fflush(stdout);
    return 0;
}
