/* The trivial test bot of the benchmark: it does nothing but wait for signals.
 * SIGTERM and SIGINT: exit 0. SIGHUP: ignored (a reload). `benchbot --exit`
 * exits at once (the trivial process of the spawn floor).
 * The same binary runs under intelmqd (`benchbot <bot_id>`), supervisord
 * (`benchbot <bot_id>`) and IntelMQ's own intelmqctl (through a `#!` script,
 * so that its command line reads `benchbot <script> <bot_id>`). */
#include <signal.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--exit") == 0)
        return 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, 0);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
            return 0;
    }
}
