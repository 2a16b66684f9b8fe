/* The pod sandbox's process for the real node of hack/real-node.sh: holds the
 * pod's namespaces, reaps orphans, and exits on SIGINT or SIGTERM. Built
 * statically with the host's gcc, so the image is this one file. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) {
  (void)signal_number;
  _exit(0);
}

static void reap(int signal_number) {
  (void)signal_number;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction on_stop = {0};
  on_stop.sa_handler = stop;
  struct sigaction on_child = {0};
  on_child.sa_handler = reap;
  on_child.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGINT, &on_stop, NULL) < 0 || sigaction(SIGTERM, &on_stop, NULL) < 0 ||
      sigaction(SIGCHLD, &on_child, NULL) < 0) {
    return 1;
  }
  for (;;) pause();
}
