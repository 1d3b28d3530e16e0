/*
 * Batched UDP for the tracker: one socket read with recvmmsg(2) and answered with sendmmsg(2),
 * a batch of up to 256 datagrams per JavaScript call, through buffers JavaScript owns.
 * Node's dgram costs a JavaScript call, an ArrayBuffer, an address string and a syscall per
 * datagram each way; here those are per batch.
 *
 * open(family, addr, port, slots, inSlot, outSlot, inBytes, inMeta, outBytes, outMeta, onBatch)
 *   binds a nonblocking socket (IPv6: dual stack) and watches it on Node's event loop. On each
 *   batch it fills, for datagram i < n: inBytes[i * inSlot ..] with its bytes and inMeta[8i ..]
 *   with [length (-1: truncated), family (4/6), port, address words ×4, IPv6 scope id]; sets
 *   outMeta[i] = 0; calls onBatch(n); then sends outBytes[i * outSlot ..] of length outMeta[i] to
 *   datagram i's source for every outMeta[i] in (0, outSlot]. Returns { handle, port }. A socket
 *   error (POLLERR) is cleared and the socket watched again.
 * sendTo(handle, bytes, family, addr, port, scope) sends one datagram (answers that come later).
 * close(handle) stops and closes the socket. The struct lives until the socket is closed and the
 * handle collected, so a handle used after close() is refused, not a dangling pointer. A worker
 * whose environment ends with the socket open closes it through an async cleanup hook.
 * A reply the kernel will not take at once (full socket buffer) is dropped, as UDP may.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define MAX_SLOTS 256
#define MAX_ROUNDS 16

typedef struct {
  int fd;
  int family;
  int closing;
  int closed;     /* on_closed ran */
  int finalized;  /* the JS handle was collected */
  int teardown;   /* the environment is ending: it frees our references itself */
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref buffers[4];
  napi_async_context async;
  uint8_t *in;
  int32_t *in_meta;
  uint8_t *out;
  int32_t *out_meta;
  uint32_t slots, in_slot, out_slot;
  struct mmsghdr rmsgs[MAX_SLOTS];
  struct iovec riov[MAX_SLOTS];
  struct sockaddr_storage raddr[MAX_SLOTS];
  struct mmsghdr smsgs[MAX_SLOTS];
  struct iovec siov[MAX_SLOTS];
} Batch;

#define CHECK(call)                                  \
  do {                                               \
    if ((call) != napi_ok) return NULL;              \
  } while (0)

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

/* The call's first `n` arguments into argv; 0 (an exception pending) if there are fewer. */
static int args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *name) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < n) {
    char msg[64];
    snprintf(msg, sizeof(msg), "%s: expects %zu argument(s)", name, n);
    napi_throw_error(env, "ERR_INVALID_ARG", msg);
    return 0;
  }
  return 1;
}

static void meta_of(const struct sockaddr_storage *sa, int32_t *m) {
  memset(m + 1, 0, 7 * sizeof(int32_t));
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    m[1] = 4;
    m[2] = ntohs(a->sin_port);
    memcpy(&m[3], &a->sin_addr, 4);
  } else if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    m[2] = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      m[1] = 4;
      memcpy(&m[3], &a->sin6_addr.s6_addr[12], 4);
    } else {
      m[1] = 6;
      memcpy(&m[3], &a->sin6_addr, 16);
      m[7] = (int32_t)a->sin6_scope_id;
    }
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  Batch *b = (Batch *)p->data;
  (void)events;
  if (b->closing) return;
  if (status < 0) {
    /* A socket error (POLLERR) stops the watcher: clear it and watch again. */
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    uv_poll_start(&b->poll, UV_READABLE, on_poll);
    return;
  }
  napi_env env = b->env;
  for (int round = 0; round < MAX_ROUNDS && !b->closing; round++) {
    for (uint32_t i = 0; i < b->slots; i++) {
      b->riov[i].iov_base = b->in + (size_t)i * b->in_slot;
      b->riov[i].iov_len = b->in_slot;
      memset(&b->rmsgs[i].msg_hdr, 0, sizeof(struct msghdr));
      b->rmsgs[i].msg_hdr.msg_name = &b->raddr[i];
      b->rmsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      b->rmsgs[i].msg_hdr.msg_iov = &b->riov[i];
      b->rmsgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(b->fd, b->rmsgs, b->slots, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
      int32_t *m = b->in_meta + 8 * i;
      meta_of(&b->raddr[i], m);
      m[0] = (b->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)b->rmsgs[i].msg_len;
      b->out_meta[i] = 0;
    }
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value fn, recv, argv[1], result;
    napi_get_reference_value(env, b->on_batch, &fn);
    napi_get_global(env, &recv);
    napi_create_uint32(env, (uint32_t)n, &argv[0]);
    napi_status st = napi_make_callback(env, b->async, recv, fn, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    napi_close_handle_scope(env, scope);
    if (b->closing) return;
    int m = 0;
    for (int i = 0; i < n; i++) {
      int32_t len = b->out_meta[i];
      if (len <= 0 || (uint32_t)len > b->out_slot) continue;
      b->siov[m].iov_base = b->out + (size_t)i * b->out_slot;
      b->siov[m].iov_len = (size_t)len;
      memset(&b->smsgs[m].msg_hdr, 0, sizeof(struct msghdr));
      b->smsgs[m].msg_hdr.msg_name = &b->raddr[i];
      b->smsgs[m].msg_hdr.msg_namelen = b->rmsgs[i].msg_hdr.msg_namelen;
      b->smsgs[m].msg_hdr.msg_iov = &b->siov[m];
      b->smsgs[m].msg_hdr.msg_iovlen = 1;
      m++;
    }
    for (int sent = 0; sent < m;) {
      int r = sendmmsg(b->fd, b->smsgs + sent, (unsigned)(m - sent), MSG_DONTWAIT);
      if (r > 0) {
        sent += r;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        break; /* socket buffer full: the rest are dropped, as UDP may */
      } else {
        sent++; /* this destination failed (e.g. unreachable): skip it */
      }
    }
    if ((uint32_t)n < b->slots) return;
  }
}

static int get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ab = false;
  napi_is_arraybuffer(env, v, &is_ab);
  if (!is_ab) return 0;
  return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
}

static int sockaddr_of(napi_env env, napi_value vfamily, napi_value vaddr, napi_value vport, uint32_t scope, struct sockaddr_storage *sa, socklen_t *salen) {
  int32_t family = 0, port = 0;
  void *addr = NULL;
  size_t addr_len = 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_value_int32(env, vfamily, &family) != napi_ok || napi_get_value_int32(env, vport, &port) != napi_ok) return 0;
  if (napi_get_typedarray_info(env, vaddr, &type, &addr_len, &addr, &ab, &offset) != napi_ok || type != napi_uint8_array) return 0;
  if (port < 0 || port > 65535) return 0;
  memset(sa, 0, sizeof(*sa));
  if (family == 4 && addr_len == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)sa;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    memcpy(&a->sin_addr, addr, 4);
    *salen = sizeof(*a);
    return 1;
  }
  if (family == 6 && addr_len == 16) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    a->sin6_scope_id = scope;
    memcpy(&a->sin6_addr, addr, 16);
    *salen = sizeof(*a);
    return 1;
  }
  return 0;
}

static void on_closed(uv_handle_t *h) {
  Batch *b = (Batch *)h->data;
  close(b->fd);
  if (!b->teardown) {
    napi_delete_reference(b->env, b->on_batch);
    for (int i = 0; i < 4; i++) napi_delete_reference(b->env, b->buffers[i]);
    napi_async_destroy(b->env, b->async);
  }
  napi_remove_async_cleanup_hook(b->cleanup);
  b->closed = 1;
  if (b->finalized) free(b);
}

static void start_close(Batch *b) {
  if (b->closing) return;
  b->closing = 1;
  uv_poll_stop(&b->poll);
  uv_close((uv_handle_t *)&b->poll, on_closed);
}

/* The environment is ending (a worker exits) with the socket open. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  Batch *b = (Batch *)arg;
  (void)handle;
  b->teardown = 1;
  start_close(b);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  Batch *b = (Batch *)data;
  (void)env;
  (void)hint;
  b->finalized = 1;
  if (b->closed) free(b);
}

static napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!args(env, info, 11, argv, "open")) return NULL;
  struct sockaddr_storage sa;
  socklen_t salen = 0;
  if (!sockaddr_of(env, argv[0], argv[1], argv[2], 0, &sa, &salen)) return throw_code(env, "ERR_INVALID_ARG", "open: bad address");
  uint32_t slots, in_slot, out_slot;
  CHECK(napi_get_value_uint32(env, argv[3], &slots));
  CHECK(napi_get_value_uint32(env, argv[4], &in_slot));
  CHECK(napi_get_value_uint32(env, argv[5], &out_slot));
  if (slots == 0 || slots > MAX_SLOTS || in_slot == 0 || out_slot == 0 || in_slot > 65536 || out_slot > 65536) return throw_code(env, "ERR_INVALID_ARG", "open: bad slots");
  void *bufs[4];
  size_t lens[4];
  for (int i = 0; i < 4; i++) {
    if (!get_buffer(env, argv[6 + i], &bufs[i], &lens[i])) return throw_code(env, "ERR_INVALID_ARG", "open: buffers must be ArrayBuffers");
  }
  if (lens[0] < (size_t)slots * in_slot || lens[1] < (size_t)slots * 32 || lens[2] < (size_t)slots * out_slot || lens[3] < (size_t)slots * 4)
    return throw_code(env, "ERR_INVALID_ARG", "open: buffers too small");
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[10], &t));
  if (t != napi_function) return throw_code(env, "ERR_INVALID_ARG", "open: onBatch must be a function");

  int fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_code(env, "ERR_SOCKET", strerror(errno));
  if (sa.ss_family == AF_INET6) {
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
    int e = errno;
    close(fd);
    return throw_code(env, e == EADDRINUSE ? "EADDRINUSE" : "ERR_SOCKET", strerror(e));
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);
  int port = bound.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port) : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);

  Batch *b = (Batch *)calloc(1, sizeof(Batch));
  if (b == NULL) {
    close(fd);
    return throw_code(env, "ERR_MEMORY", "open: out of memory");
  }
  b->fd = fd;
  b->family = sa.ss_family;
  b->env = env;
  b->in = (uint8_t *)bufs[0];
  b->in_meta = (int32_t *)bufs[1];
  b->out = (uint8_t *)bufs[2];
  b->out_meta = (int32_t *)bufs[3];
  b->slots = slots;
  b->in_slot = in_slot;
  b->out_slot = out_slot;
  napi_create_reference(env, argv[10], 1, &b->on_batch);
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[6 + i], 1, &b->buffers[i]);
  napi_value name;
  napi_create_string_utf8(env, "torrenttp.udpBatch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &b->async);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init_socket(loop, &b->poll, fd);
  b->poll.data = b;
  uv_poll_start(&b->poll, UV_READABLE, on_poll);
  napi_add_async_cleanup_hook(env, on_env_cleanup, b, &b->cleanup);

  napi_value out, handle, vport;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_external(env, b, on_finalize, NULL, &handle));
  CHECK(napi_create_int32(env, port, &vport));
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "port", vport);
  return out;
}

static Batch *batch_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (Batch *)p;
}

static napi_value SendTo(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!args(env, info, 6, argv, "sendTo")) return NULL;
  Batch *b = batch_of(env, argv[0]);
  if (b == NULL || b->closing) return throw_code(env, "ERR_SOCKET_CLOSED", "sendTo: socket closed");
  void *data = NULL;
  size_t len = 0, offset;
  napi_typedarray_type type;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &offset) != napi_ok || type != napi_uint8_array)
    return throw_code(env, "ERR_INVALID_ARG", "sendTo: bytes must be a Uint8Array");
  struct sockaddr_storage sa;
  socklen_t salen = 0;
  uint32_t scope = 0;
  if (napi_get_value_uint32(env, argv[5], &scope) != napi_ok) return throw_code(env, "ERR_INVALID_ARG", "sendTo: bad scope id");
  if (!sockaddr_of(env, argv[2], argv[3], argv[4], scope, &sa, &salen)) return throw_code(env, "ERR_INVALID_ARG", "sendTo: bad address");
  if (b->family == AF_INET6 && sa.ss_family == AF_INET) {
    /* a dual-stack socket sends to IPv4 peers at their v4-mapped address */
    struct sockaddr_in v4 = *(struct sockaddr_in *)&sa;
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
    memset(a, 0, sizeof(*a));
    a->sin6_family = AF_INET6;
    a->sin6_port = v4.sin_port;
    a->sin6_addr.s6_addr[10] = 0xff;
    a->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&a->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
    salen = sizeof(*a);
  }
  ssize_t r = sendto(b->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
  napi_value out;
  CHECK(napi_create_int32(env, r < 0 ? -errno : (int32_t)r, &out));
  return out;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv, "close")) return NULL;
  Batch *b = batch_of(env, argv[0]);
  if (b != NULL) start_close(b);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
    {"sendTo", NULL, SendTo, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
