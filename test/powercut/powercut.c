// A power-cut layer for one directory, loaded with LD_PRELOAD into the process
// under test (the idea of Jepsen's LazyFS, without FUSE). The directory itself
// always holds what the process wrote (the page cache); a shadow directory holds
// what a power cut would leave: a file's bytes as of its last fsync/fdatasync,
// and the directory's entries as of its last directory fsync. After SIGKILL,
// harness.ts rebuilds the directory from the shadow: every write, creation,
// rename, truncation and removal that was not made durable is gone.
//
// Faults for the slow, failing and full disk (read from POWERCUT_CONTROL when
// it changes): fsync_delay_ms=N, fsync=eio, write=eio, write=enospc.
// Only regular files directly in POWERCUT_ROOT are watched; see
// docs/RELIABILITY.md for the limits.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 8192
#define MAX_INODES 64
#define MAX_RANGES 256
#define KEY_LEN 80

enum { WATCH_NONE = 0, WATCH_FILE = 1, WATCH_ROOT = 2 };

struct watched_fd {
  int kind;
  ino_t ino;
  char key[KEY_LEN];
};

/** Bytes of one inode written since its last sync: ranges, and everything from `low` on (truncation, overflow). */
struct dirty {
  ino_t ino;
  int used;
  off_t low;
  int n;
  off_t from[MAX_RANGES];
  off_t to[MAX_RANGES];
};

static struct watched_fd fds[MAX_FD];
static struct dirty inodes[MAX_INODES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char root[PATH_MAX];
static size_t root_len;
static char shadow[PATH_MAX];
static char control[PATH_MAX];
static unsigned long key_counter;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static void resolve_real(void);
static int resolved;
#define REAL(name) (resolved ? real_##name : (resolve_real(), real_##name))

// Resolved together, the first time any is needed (a constructor of another
// library may open a file before ours runs).
static void resolve_real(void) {
  real_open = dlsym(RTLD_NEXT, "open");
  real_openat = dlsym(RTLD_NEXT, "openat");
  real_write = dlsym(RTLD_NEXT, "write");
  real_pwrite = dlsym(RTLD_NEXT, "pwrite");
  real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
  real_writev = dlsym(RTLD_NEXT, "writev");
  real_pwritev = dlsym(RTLD_NEXT, "pwritev");
  real_pwritev64 = dlsym(RTLD_NEXT, "pwritev64");
  real_pwritev2 = dlsym(RTLD_NEXT, "pwritev2");
  real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
  real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_close = dlsym(RTLD_NEXT, "close");
  resolved = 1;
}

__attribute__((constructor)) static void powercut_init(void) {
  const char *r = getenv("POWERCUT_ROOT");
  const char *s = getenv("POWERCUT_SHADOW");
  const char *c = getenv("POWERCUT_CONTROL");
  if (r && s && strlen(r) < sizeof root && strlen(s) < sizeof shadow) {
    strcpy(root, r);
    root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root[--root_len] = '\0';
    strcpy(shadow, s);
  }
  if (c && strlen(c) < sizeof control) strcpy(control, c);
  if (!resolved) resolve_real();
}

/* ---- faults ---------------------------------------------------------- */

struct faults {
  long fsync_delay_ms;
  int fsync_errno;
  int write_errno;
};

static struct faults current_faults;
static struct timespec control_mtime;

static struct faults read_faults(void) {
  struct stat st;
  if (!control[0] || stat(control, &st) != 0) return (struct faults){0, 0, 0};
  pthread_mutex_lock(&lock);
  if (st.st_mtim.tv_sec != control_mtime.tv_sec || st.st_mtim.tv_nsec != control_mtime.tv_nsec) {
    struct faults f = {0, 0, 0};
    FILE *in = fopen(control, "r");
    char line[128];
    while (in && fgets(line, sizeof line, in)) {
      if (strncmp(line, "fsync_delay_ms=", 15) == 0) f.fsync_delay_ms = atol(line + 15);
      else if (strncmp(line, "fsync=eio", 9) == 0) f.fsync_errno = EIO;
      else if (strncmp(line, "write=eio", 9) == 0) f.write_errno = EIO;
      else if (strncmp(line, "write=enospc", 12) == 0) f.write_errno = ENOSPC;
    }
    if (in) fclose(in);
    current_faults = f;
    control_mtime = st.st_mtim;
  }
  struct faults f = current_faults;
  pthread_mutex_unlock(&lock);
  return f;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- which paths are watched ------------------------------------------- */

static int still(int fd, int kind);

/** WATCH_FILE for a name directly in the root, WATCH_ROOT for the root itself. */
static int classify(int dirfd, const char *path) {
  if (!root_len || !path) return WATCH_NONE;
  char full[PATH_MAX];
  if (path[0] == '/') {
    snprintf(full, sizeof full, "%s", path);
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) return WATCH_NONE;
    } else if (still(dirfd, WATCH_ROOT)) {
      strcpy(base, root);
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, base, sizeof base - 1);
      if (n < 0) return WATCH_NONE;
      base[n] = '\0';
    }
    snprintf(full, sizeof full, "%s/%s", base, path);
  }
  size_t len = strlen(full);
  while (len > 1 && full[len - 1] == '/') full[--len] = '\0';
  if (strcmp(full, root) == 0) return WATCH_ROOT;
  if (strncmp(full, root, root_len) != 0 || full[root_len] != '/') return WATCH_NONE;
  const char *name = full + root_len + 1;
  if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return WATCH_NONE;
  return WATCH_FILE;
}

/* ---- the shadow ---------------------------------------------------------- */

static void shadow_path(char *out, size_t size, const char *kind, const char *name) {
  snprintf(out, size, "%s/%s/%s", shadow, kind, name);
}

static int read_key(ino_t ino, char *key) {
  char path[PATH_MAX], name[32];
  snprintf(name, sizeof name, "%lu", (unsigned long)ino);
  shadow_path(path, sizeof path, "ino", name);
  int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, key, KEY_LEN - 1);
  REAL(close)(fd);
  if (n <= 0) return -1;
  key[n] = '\0';
  return 0;
}

static void write_file(const char *path, const char *text, size_t len) {
  int fd = REAL(open)(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (REAL(write)(fd, text, len) < 0) {}
  REAL(close)(fd);
}

/** Copies bytes [from, to) of a watched file into its durable image. */
static void copy_range(int src, int dst, off_t from, off_t to) {
  char buf[65536];
  while (from < to) {
    size_t want = (size_t)(to - from) < sizeof buf ? (size_t)(to - from) : sizeof buf;
    ssize_t n = pread(src, buf, want, from);
    if (n <= 0) return;
    if (REAL(pwrite)(dst, buf, (size_t)n, from) < 0) return;
    from += n;
  }
}

/** A readable descriptor for a watched file (it may be open write-only). */
static int readable(int fd, int *opened) {
  int flags = fcntl(fd, F_GETFL);
  *opened = 0;
  if (flags >= 0 && (flags & O_ACCMODE) != O_WRONLY) return fd;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int r = REAL(open)(link, O_RDONLY | O_CLOEXEC);
  *opened = r >= 0;
  return r;
}

/** A new durable identity for an inode: an empty image, or a copy of its present bytes (a file from outside the harness). */
static void new_key(ino_t ino, int fd, char *key, int copy_all) {
  char path[PATH_MAX], name[32];
  snprintf(key, KEY_LEN, "%lu-%d-%lu", (unsigned long)ino, (int)getpid(), ++key_counter);
  shadow_path(path, sizeof path, "data", key);
  int img = REAL(open)(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (img >= 0) {
    struct stat st;
    int opened, src = copy_all ? readable(fd, &opened) : -1;
    if (src >= 0 && fstat(src, &st) == 0) copy_range(src, img, 0, st.st_size);
    if (src >= 0 && opened) REAL(close)(src);
    REAL(close)(img);
  }
  snprintf(name, sizeof name, "%lu", (unsigned long)ino);
  shadow_path(path, sizeof path, "ino", name);
  write_file(path, key, strlen(key));
}

static struct dirty *dirty_of(ino_t ino, int create) {
  struct dirty *free_slot = NULL;
  for (int i = 0; i < MAX_INODES; i++) {
    if (inodes[i].used && inodes[i].ino == ino) return &inodes[i];
    if (!inodes[i].used && !free_slot) free_slot = &inodes[i];
  }
  if (!create || !free_slot) return NULL;
  free_slot->used = 1;
  free_slot->ino = ino;
  free_slot->low = INT64_MAX;
  free_slot->n = 0;
  return free_slot;
}

static void mark(int fd, off_t from, off_t to) {
  if (fd < 0 || fd >= MAX_FD || fds[fd].kind != WATCH_FILE || to <= from) return;
  pthread_mutex_lock(&lock);
  struct dirty *d = dirty_of(fds[fd].ino, 1);
  if (d) {
    int merged = 0;
    for (int i = 0; i < d->n && !merged; i++) {
      if (from <= d->to[i] && to >= d->from[i]) {
        if (from < d->from[i]) d->from[i] = from;
        if (to > d->to[i]) d->to[i] = to;
        merged = 1;
      }
    }
    if (!merged && d->n < MAX_RANGES) {
      d->from[d->n] = from;
      d->to[d->n++] = to;
    } else if (!merged && from < d->low) {
      d->low = from; // too many ranges: everything from here on is copied at the sync
    }
  }
  pthread_mutex_unlock(&lock);
}

/** The file is on disk: its image takes its size and every byte written since the last sync. */
static void sync_file(int fd) {
  pthread_mutex_lock(&lock);
  struct watched_fd *w = &fds[fd];
  struct stat st;
  char path[PATH_MAX];
  shadow_path(path, sizeof path, "data", w->key);
  int img = REAL(open)(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  int opened, src = readable(fd, &opened);
  if (img >= 0 && src >= 0 && fstat(src, &st) == 0) {
    struct dirty *d = dirty_of(w->ino, 0);
    if (d) {
      for (int i = 0; i < d->n; i++) copy_range(src, img, d->from[i], d->to[i] < st.st_size ? d->to[i] : st.st_size);
      if (d->low < st.st_size) copy_range(src, img, d->low, st.st_size);
      d->used = 0;
    }
    if (REAL(ftruncate)(img, st.st_size) != 0) {}
  }
  if (src >= 0 && opened) REAL(close)(src);
  if (img >= 0) REAL(close)(img);
  pthread_mutex_unlock(&lock);
}

/** The directory is on disk: its entries as they are now become the durable ones. */
static void sync_root(void) {
  pthread_mutex_lock(&lock);
  char list[1 << 16];
  size_t used = 0;
  DIR *dir = opendir(root);
  struct dirent *e;
  while (dir && (e = readdir(dir))) {
    char path[PATH_MAX], key[KEY_LEN];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, e->d_name);
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (read_key(st.st_ino, key) != 0) {
      int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
      new_key(st.st_ino, fd, key, 1);
      if (fd >= 0) REAL(close)(fd);
    }
    int n = snprintf(list + used, sizeof list - used, "%s\t%s\n", key, e->d_name);
    if (n > 0 && used + (size_t)n < sizeof list) used += (size_t)n;
  }
  if (dir) closedir(dir);
  char tmp[PATH_MAX], final[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/dir.list.tmp", shadow);
  snprintf(final, sizeof final, "%s/dir.list", shadow);
  write_file(tmp, list, used);
  rename(tmp, final);
  pthread_mutex_unlock(&lock);
}

/* ---- open and close -------------------------------------------------------- */

static int after_open(int fd, int kind, int existed, int flags) {
  if (fd < 0 || fd >= MAX_FD || kind == WATCH_NONE) return fd;
  struct stat st;
  if (fstat(fd, &st) != 0) return fd;
  if (kind == WATCH_ROOT) {
    if (S_ISDIR(st.st_mode)) {
      fds[fd].ino = st.st_ino;
      fds[fd].kind = WATCH_ROOT;
    }
    return fd;
  }
  if (!S_ISREG(st.st_mode)) return fd;
  pthread_mutex_lock(&lock);
  struct watched_fd *w = &fds[fd];
  w->ino = st.st_ino;
  if (!existed) {
    struct dirty *d = dirty_of(st.st_ino, 0);
    if (d) d->used = 0;
    new_key(st.st_ino, fd, w->key, 0);
  } else if (read_key(st.st_ino, w->key) != 0) {
    new_key(st.st_ino, fd, w->key, 1);
  }
  if (flags & O_TRUNC) {
    struct dirty *d = dirty_of(st.st_ino, 1);
    if (d) d->low = 0;
  }
  w->kind = WATCH_FILE;
  pthread_mutex_unlock(&lock);
  return fd;
}

static int exists_at(int dirfd, const char *path) {
  struct stat st;
  return fstatat(dirfd, path, &st, 0) == 0;
}

static int open_watched(int dirfd, const char *path, int flags, mode_t mode) {
  int kind = classify(dirfd, path);
  int existed = kind == WATCH_FILE ? exists_at(dirfd, path) : 1;
  if (kind == WATCH_FILE && (flags & O_CREAT) && !existed) {
    struct faults f = read_faults();
    if (f.write_errno == ENOSPC) {
      errno = ENOSPC;
      return -1;
    }
  }
  int fd = REAL(openat)(dirfd, path, flags, mode);
  return after_open(fd, kind, existed, flags);
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_watched(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_watched(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_watched(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_watched(dirfd, path, flags | O_LARGEFILE, mode);
}

int creat(const char *path, mode_t mode) { return open_watched(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode); }
int creat64(const char *path, mode_t mode) { return open_watched(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode); }

int close(int fd) {
  if (fd >= 0 && fd < MAX_FD && fds[fd].kind != WATCH_NONE) {
    pthread_mutex_lock(&lock);
    fds[fd].kind = WATCH_NONE;
    pthread_mutex_unlock(&lock);
  }
  return REAL(close)(fd);
}

/* ---- writes ---------------------------------------------------------------------- */

/**
 * Whether fd is still the watched file or directory it was opened as. libuv
 * closes descriptors with a raw system call, past close() here, so a number
 * may since belong to a socket or another file: checked by inode at each use.
 */
static int still(int fd, int kind) {
  if (fd < 0 || fd >= MAX_FD || fds[fd].kind != kind) return 0;
  struct stat st;
  int same = fstat(fd, &st) == 0 && st.st_ino == fds[fd].ino && (kind == WATCH_FILE ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode));
  if (!same) {
    pthread_mutex_lock(&lock);
    if (fds[fd].kind == kind) fds[fd].kind = WATCH_NONE;
    pthread_mutex_unlock(&lock);
  }
  return same;
}

static int watched(int fd) { return still(fd, WATCH_FILE); }

static int refuse_write(int fd) {
  if (!watched(fd)) return 0;
  struct faults f = read_faults();
  if (!f.write_errno) return 0;
  errno = f.write_errno;
  return 1;
}

/** A write at the descriptor's position: the range is known once it has moved. */
static ssize_t after_positional(int fd, ssize_t n) {
  if (n > 0 && watched(fd)) {
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end >= 0) mark(fd, end - n, end);
  }
  return n;
}

ssize_t write(int fd, const void *buf, size_t count) {
  if (refuse_write(fd)) return -1;
  return after_positional(fd, REAL(write)(fd, buf, count));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  if (refuse_write(fd)) return -1;
  return after_positional(fd, REAL(writev)(fd, iov, iovcnt));
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  if (refuse_write(fd)) return -1;
  ssize_t n = REAL(pwrite)(fd, buf, count, offset);
  if (n > 0) mark(fd, offset, offset + n);
  return n;
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
  if (refuse_write(fd)) return -1;
  ssize_t n = REAL(pwrite64)(fd, buf, count, offset);
  if (n > 0) mark(fd, offset, offset + n);
  return n;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  if (refuse_write(fd)) return -1;
  ssize_t n = REAL(pwritev)(fd, iov, iovcnt, offset);
  if (n > 0) mark(fd, offset, offset + n);
  return n;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
  if (refuse_write(fd)) return -1;
  ssize_t n = REAL(pwritev64)(fd, iov, iovcnt, offset);
  if (n > 0) mark(fd, offset, offset + n);
  return n;
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
  if (refuse_write(fd)) return -1;
  off_t start = offset == -1 ? lseek(fd, 0, SEEK_CUR) : offset;
  ssize_t n = REAL(pwritev2)(fd, iov, iovcnt, offset, flags);
  if (n > 0 && start >= 0) mark(fd, start, start + n);
  return n;
}

static void before_truncate(int fd, off_t length) {
  if (!watched(fd)) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  off_t low = length < st.st_size ? length : st.st_size;
  pthread_mutex_lock(&lock);
  struct dirty *d = dirty_of(fds[fd].ino, 1);
  if (d && low < d->low) d->low = low;
  pthread_mutex_unlock(&lock);
}

int ftruncate(int fd, off_t length) {
  if (refuse_write(fd)) return -1;
  before_truncate(fd, length);
  return REAL(ftruncate)(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  if (refuse_write(fd)) return -1;
  before_truncate(fd, length);
  return REAL(ftruncate64)(fd, length);
}

/* ---- syncs ------------------------------------------------------------------------- */

static int synced(int fd, int (*real)(int)) {
  int kind = fd >= 0 && fd < MAX_FD ? fds[fd].kind : WATCH_NONE;
  if (kind == WATCH_NONE || !still(fd, kind)) return real(fd);
  struct faults f = read_faults();
  if (f.fsync_delay_ms > 0) sleep_ms(f.fsync_delay_ms);
  if (f.fsync_errno) {
    errno = f.fsync_errno;
    return -1;
  }
  int rc = real(fd);
  if (rc != 0) return rc;
  if (kind == WATCH_ROOT) sync_root();
  else sync_file(fd);
  return 0;
}

int fsync(int fd) { return synced(fd, REAL(fsync)); }
int fdatasync(int fd) { return synced(fd, REAL(fdatasync)); }
