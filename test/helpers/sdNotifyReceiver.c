// A stand-in for systemd's notification socket in tests: binds a unix datagram
// socket at argv[1] and prints every assignment it receives on a line of its
// own, after the milliseconds since it started. Descriptors passed along (the
// barrier of systemd-notify) are closed at once, as systemd does once it has
// read the message.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  unlink(argv[1]);
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0) return 1;
  long start = now_ms();
  printf("0 LISTENING=1\n");
  fflush(stdout);
  for (;;) {
    char buf[4096];
    char control[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {buf, sizeof buf - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) continue;
    buf[n] = '\0';
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int *fds = (int *)CMSG_DATA(c);
      for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) close(fds[i]);
    }
    long at = now_ms() - start;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) printf("%ld %s\n", at, line);
    fflush(stdout);
  }
}
