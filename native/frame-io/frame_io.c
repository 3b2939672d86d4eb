/*
 * frame_io: Ethernet frame I/O with the Linux kernel for v6pod — TAP devices (a synthetic instance's
 * "vnetN" port) and AF_PACKET sockets (a relay's capture, optionally in a PACKET_FANOUT group).
 * The TypeScript side is harness/io/ (native.ts loads this; tap.ts and packet-socket.ts wrap it).
 *
 * Why uv_poll on the main loop: one process serves ~250 TAPs. Blocking reads in libuv's thread pool
 * (4 threads, shared with fs, dns and crypto) would starve both the pool and the ports; instead each
 * fd is non-blocking and watched by a uv_poll_t on the main loop, and on "readable" we drain a
 * bounded batch (so one busy port cannot hog the loop; libuv's epoll is level-triggered, so what is
 * left fires again on the next turn) and hand the whole batch to JS in one call: one Buffer holding
 * the frames back to back plus their lengths.
 *
 * Why non-persistent TAPs (no TUNSETPERSIST) opened with IFF_TUN_EXCL and O_CLOEXEC: the device
 * lives exactly as long as our fd, so a crashed test or killed process leaves nothing behind, a
 * name already in use fails (EBUSY) instead of silently attaching to somebody else's persistent
 * TAP, and child processes (ip, daemons) never inherit the fd and keep a device alive.
 *
 * Why setns on the calling thread: /dev/net/tun binds a device to the network namespace current
 * when the file was opened, and AF_PACKET sockets to the one current at socket(); ifindex lookups
 * are per namespace too. Switching only this thread (setns(CLONE_NEWNET) is per thread) for the few
 * synchronous syscalls, then switching back, lets one process own ports in many namespaces without
 * spawning helpers. The created objects stay in the namespace they were created in. If switching
 * back ever failed the main thread would silently live in the wrong namespace, so that aborts.
 *
 * Route netlink (openRouteNetlink/netlinkTransact/netlinkClose): a relay installs a route per Reply,
 * and an `ip -batch` child costs a pipe write, a parse and a netlink round trip per line in another
 * process. rtnetlink handles a request synchronously inside sendmsg, queueing its answers to our
 * socket before sendmsg returns, so one call sends many messages in one datagram and reads every
 * answer back without polling. NETLINK_CAP_ACK keeps error answers short (no echoed request).
 *
 * Lifetime: while a port is being polled it holds a strong reference to its JS object (it cannot be
 * garbage-collected while frames may arrive); close() is idempotent, stops the poll handle before
 * closing the fd (libuv forbids closing a polled fd), and the C struct is freed only when both the
 * JS object is finalized and libuv has released the handle.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

/* Frames per delivery: bounds the time one port holds the loop per readable event. */
#define BATCH 64
/* Largest frame read: anything longer (GSO super-frames on a packet socket) is cut and counted. */
#define MAX_FRAME 65536

/* Per-environment (main thread or worker) scratch where a batch is read before one copy to JS. */
typedef struct {
  napi_ref port_constructor;
  unsigned char scratch[BATCH * MAX_FRAME];
} instance_data;

typedef struct port {
  napi_env env;
  int fd; /* -1 once closed */
  int is_socket;
  char label[96]; /* "TAP vnet3" / "packet socket on eth0": names the port in errors */
  uv_poll_t poll;
  int poll_inited;
  int poll_released; /* libuv's close callback ran: the handle memory is ours again */
  int finalized;     /* the JS object is gone */
  napi_ref self;     /* weak normally, strong while polling */
  napi_ref callback;
  napi_ref lengths;  /* Uint32Array(BATCH) reused for every delivery */
  uint32_t *lengths_data;
  napi_async_context async_context;
  double truncated;  /* frames longer than MAX_FRAME */
} port;

/* ---- small N-API helpers ---- */

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      const napi_extended_error_info *info_;                               \
      napi_get_last_error_info((env), &info_);                             \
      bool pending_;                                                       \
      napi_is_exception_pending((env), &pending_);                         \
      if (!pending_)                                                       \
        napi_throw_error((env), NULL,                                      \
                         info_ && info_->error_message ? info_->error_message \
                                                       : "N-API call failed"); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

/* Throws "WHAT: errno text" with the errno name (EBUSY, ...) as the error's code. */
static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = strerrorname_np(err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap, const char *field) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string", field);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  if (len >= cap - 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s is too long (at most %zu bytes)", field, cap - 2);
    napi_throw_range_error(env, NULL, msg);
    return -1;
  }
  return 0;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

/* ---- network namespace switching (this thread only) ---- */

/* Enters the namespace at `path` ("" = stay); *saved gets our own namespace to return to. */
static int enter_netns(napi_env env, const char *path, int *saved, const char *who) {
  *saved = -1;
  if (!path[0]) return 0;
  char what[512];
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    snprintf(what, sizeof what, "%s: netns %s", who, path);
    throw_errno(env, errno, what);
    return -1;
  }
  *saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*saved < 0) {
    int err = errno;
    close(target);
    snprintf(what, sizeof what, "%s: opening /proc/thread-self/ns/net", who);
    throw_errno(env, err, what);
    return -1;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(target);
    close(*saved);
    *saved = -1;
    snprintf(what, sizeof what, "%s: setns into %s", who, path);
    throw_errno(env, err, what);
    return -1;
  }
  close(target);
  return 0;
}

static void leave_netns(int saved) {
  if (saved < 0) return;
  if (setns(saved, CLONE_NEWNET) < 0) {
    /* The main thread would keep running in a test namespace: nothing sane can follow. */
    fprintf(stderr, "frame_io: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(saved);
}

/* ---- the Port object ---- */

static void maybe_free(port *p) {
  if (p->finalized && (!p->poll_inited || p->poll_released)) free(p);
}

static void on_poll_closed(uv_handle_t *h) {
  port *p = h->data;
  p->poll_released = 1;
  /* Destroyed here, not in close(): close() may run inside a delivery that still uses the context. */
  if (!p->finalized && p->async_context) napi_async_destroy(p->env, p->async_context);
  p->async_context = NULL;
  maybe_free(p);
}

/* Stops polling and closes the fd; safe to call any number of times. */
static void port_shutdown(port *p) {
  if (p->fd < 0) return;
  if (p->poll_inited) {
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_poll_closed);
  }
  close(p->fd);
  p->fd = -1;
}

static void release_js_refs(port *p, napi_env env) {
  if (p->callback) { napi_delete_reference(env, p->callback); p->callback = NULL; }
  if (p->lengths) { napi_delete_reference(env, p->lengths); p->lengths = NULL; p->lengths_data = NULL; }
}

static void port_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  port *p = data;
  port_shutdown(p);
  if (p->callback) napi_delete_reference(env, p->callback);
  if (p->lengths) napi_delete_reference(env, p->lengths);
  if (p->self) napi_delete_reference(env, p->self);
  /* The async context is left to on_poll_closed (or leaked at teardown): napi_async_destroy may touch JS. */
  p->finalized = 1;
  maybe_free(p);
}

static port *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  port *p;
  if (napi_unwrap(env, self, (void **)&p) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a frame_io port");
    return NULL;
  }
  return p;
}

/* Calls cb from a libuv callback; a throw becomes an uncaught exception (as in any event handler). */
static void call_js(port *p, napi_value cb, size_t argc, napi_value *argv) {
  napi_env env = p->env;
  napi_value global, result;
  napi_get_global(env, &global); /* make_callback wants an object receiver */
  napi_make_callback(env, p->async_context, global, cb, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

/* Delivers a failure to JS as callback(null, null, 0, message) and stops polling. */
static void deliver_error(port *p, const char *message) {
  napi_env env = p->env;
  uv_poll_stop(&p->poll);
  napi_value cb, argv[4];
  if (!p->callback || napi_get_reference_value(env, p->callback, &cb) != napi_ok || !cb) return;
  napi_get_null(env, &argv[0]);
  napi_get_null(env, &argv[1]);
  napi_create_uint32(env, 0, &argv[2]);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[3]);
  call_js(p, cb, 4, argv);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  port *p = h->data;
  napi_env env = p->env;
  if (p->fd < 0) return;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (status < 0) {
    /* libuv saw EPOLLERR and stopped the handle. A packet socket raises it once when its interface
     * goes down (sk_err = ENETDOWN; reading SO_ERROR clears it): keep capturing across a flap.
     * (Deletion also starts with that ENETDOWN, and the kernel unbinds the socket a grace period
     * later without another event, so a deleted interface just goes silent.) A TAP raises it
     * when its device was deleted: that ends delivery. */
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (p->is_socket) getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (p->is_socket && (soerr == ENETDOWN || soerr == 0) && uv_poll_start(&p->poll, UV_READABLE, on_readable) == 0) {
      status = 0;
    } else {
      char msg[256];
      if (!p->is_socket) snprintf(msg, sizeof msg, "%s: the device is gone (deleted while open)", p->label);
      else snprintf(msg, sizeof msg, "%s: socket error: %s", p->label, strerror(soerr));
      deliver_error(p, msg);
      napi_close_handle_scope(env, scope);
      return;
    }
  }
  instance_data *inst;
  napi_get_instance_data(env, (void **)&inst);
  size_t used = 0;
  uint32_t n = 0;
  int failed = 0;
  while (n < BATCH) {
    ssize_t r = p->is_socket ? recv(p->fd, inst->scratch + used, MAX_FRAME, MSG_TRUNC)
                             : read(p->fd, inst->scratch + used, MAX_FRAME);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      /* A packet socket reports its interface going down once (ENETDOWN); that is not fatal. */
      if (p->is_socket && errno == ENETDOWN) continue;
      failed = errno;
      break;
    }
    if (r > MAX_FRAME) {
      p->truncated++;
      r = MAX_FRAME;
    }
    p->lengths_data[n++] = (uint32_t)r;
    used += (size_t)r;
  }
  if (n > 0 && p->callback) {
    napi_value cb, argv[3];
    void *copy;
    if (napi_get_reference_value(env, p->callback, &cb) == napi_ok &&
        napi_create_buffer_copy(env, used, inst->scratch, &copy, &argv[0]) == napi_ok &&
        napi_get_reference_value(env, p->lengths, &argv[1]) == napi_ok &&
        napi_create_uint32(env, n, &argv[2]) == napi_ok) {
      call_js(p, cb, 3, argv);
    }
  }
  if (failed && p->fd >= 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: read: %s", p->label, strerror(failed));
    deliver_error(p, msg);
  }
  napi_close_handle_scope(env, scope);
}

/* The bytes of a Uint8Array (a Buffer is one) argument; false when it is not one. */
static bool uint8_arg(napi_env env, size_t argc, napi_value arg, void **data, size_t *length) {
  napi_typedarray_type type;
  bool is_typed = false;
  if (argc >= 1) napi_is_typedarray(env, arg, &is_typed);
  return is_typed && napi_get_typedarray_info(env, arg, &type, length, data, NULL, NULL) == napi_ok && type == napi_uint8_array;
}

/* Throws "<label> is closed" (ERR_CLOSED) and returns true when the port's fd is gone. */
static bool closed(napi_env env, const port *p) {
  if (p->fd >= 0) return false;
  char msg[160];
  snprintf(msg, sizeof msg, "%s is closed", p->label);
  napi_throw_error(env, "ERR_CLOSED", msg);
  return true;
}

/* port.start(callback(frames: Buffer|null, lengths: Uint32Array|null, count, error?)) */
static napi_value port_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  port *p = unwrap(env, info, &argc, argv);
  if (!p) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (argc < 1 || t != napi_function) {
    napi_throw_type_error(env, NULL, "start: callback must be a function");
    return NULL;
  }
  if (closed(env, p)) return NULL;
  if (p->callback) napi_delete_reference(env, p->callback);
  CHECK(env, napi_create_reference(env, argv[0], 1, &p->callback));
  if (!p->poll_inited) {
    napi_value ab, arr, name, self;
    void *data;
    CHECK(env, napi_create_arraybuffer(env, BATCH * sizeof(uint32_t), &data, &ab));
    CHECK(env, napi_create_typedarray(env, napi_uint32_array, BATCH, ab, 0, &arr));
    CHECK(env, napi_create_reference(env, arr, 1, &p->lengths));
    p->lengths_data = data;
    CHECK(env, napi_create_string_utf8(env, p->label, NAPI_AUTO_LENGTH, &name));
    CHECK(env, napi_get_reference_value(env, p->self, &self));
    CHECK(env, napi_async_init(env, self, name, &p->async_context));
    uv_loop_t *loop;
    CHECK(env, napi_get_uv_event_loop(env, &loop));
    int rc = uv_poll_init(loop, &p->poll, p->fd);
    if (rc < 0) {
      char msg[200];
      snprintf(msg, sizeof msg, "%s: uv_poll_init: %s", p->label, uv_strerror(rc));
      napi_throw_error(env, NULL, msg);
      return NULL;
    }
    p->poll.data = p;
    p->poll_inited = 1;
    /* Polling from now on: the JS object must outlive every delivery, so hold it strongly. */
    uint32_t count;
    CHECK(env, napi_reference_ref(env, p->self, &count));
  }
  int rc = uv_poll_start(&p->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: uv_poll_start: %s", p->label, uv_strerror(rc));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return NULL;
}

/* port.send(frame: Uint8Array) → true, or false when the kernel has no room or the link is down. */
static napi_value port_send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  port *p = unwrap(env, info, &argc, argv);
  if (!p) return NULL;
  size_t length;
  void *data;
  if (!uint8_arg(env, argc, argv[0], &data, &length)) {
    napi_throw_type_error(env, NULL, "send: frame must be a Buffer or Uint8Array");
    return NULL;
  }
  if (closed(env, p)) return NULL;
  ssize_t r;
  do {
    r = p->is_socket ? send(p->fd, data, length, MSG_DONTWAIT) : write(p->fd, data, length);
  } while (r < 0 && errno == EINTR);
  napi_value out;
  if (r < 0) {
    /* No room (EAGAIN/ENOBUFS), or the link is down (a TAP says EIO, a packet socket ENETDOWN/ENXIO):
     * the frame is lost as on a wire, not a programming error. */
    int down = p->is_socket ? (errno == ENETDOWN || errno == ENXIO) : errno == EIO;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || down) {
      napi_get_boolean(env, false, &out);
      return out;
    }
    char what[160];
    snprintf(what, sizeof what, "send on %s", p->label);
    return throw_errno(env, errno, what);
  }
  napi_get_boolean(env, true, &out);
  return out;
}

/* port.stop(): stops delivery (frames wait in the kernel) until start() again. */
static napi_value port_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  port *p = unwrap(env, info, &argc, NULL);
  if (!p) return NULL;
  if (p->poll_inited && p->fd >= 0) uv_poll_stop(&p->poll);
  return NULL;
}

/* port.close(): idempotent. */
static napi_value port_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  port *p = unwrap(env, info, &argc, NULL);
  if (!p) return NULL;
  if (p->fd < 0) return NULL;
  int was_polling = p->poll_inited;
  port_shutdown(p);
  release_js_refs(p, env);
  if (was_polling) {
    uint32_t count;
    napi_reference_unref(env, p->self, &count);
  }
  return NULL;
}

/*
 * tap.acceptOnly(macs: Uint8Array of 6-byte destination MACs back to back) → exact entries in use.
 * TUNSETTXFILTER: the tun driver drops, before the fd, every frame whose destination is not listed
 * (counted as the device's tx_dropped), so a TAP on a flooding bridge is not woken for frames meant
 * for others. An empty list turns the filter off. The kernel matches the first 8 exactly and hashes
 * further multicast ones (inexact); a unicast address past the 8th silently disables the filter, so
 * the caller (harness/io/tap.ts) orders and checks the list and we report how many were exact.
 */
static napi_value port_accept_only(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  port *p = unwrap(env, info, &argc, argv);
  if (!p) return NULL;
  size_t length;
  void *data;
  if (!uint8_arg(env, argc, argv[0], &data, &length) || length % ETH_ALEN || length / ETH_ALEN > 0xffff) {
    napi_throw_type_error(env, NULL, "acceptOnly: macs must be a Uint8Array of at most 65535 6-byte addresses");
    return NULL;
  }
  char what[160];
  if (p->is_socket) {
    snprintf(what, sizeof what, "%s: a destination-MAC filter needs a TAP", p->label);
    napi_throw_error(env, NULL, what);
    return NULL;
  }
  if (closed(env, p)) return NULL;
  struct tun_filter *f = calloc(1, sizeof *f + length);
  if (!f) return throw_errno(env, ENOMEM, p->label);
  f->flags = 0;
  f->count = (__u16)(length / ETH_ALEN);
  if (length) memcpy(f->addr, data, length);
  int rc = ioctl(p->fd, TUNSETTXFILTER, f);
  int err = errno;
  free(f);
  if (rc < 0) {
    snprintf(what, sizeof what, "%s: TUNSETTXFILTER", p->label);
    return throw_errno(env, err, what);
  }
  napi_value out;
  napi_create_uint32(env, (uint32_t)rc, &out);
  return out;
}

/* port.truncated(): frames cut at MAX_FRAME bytes so far. */
static napi_value port_truncated(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  port *p = unwrap(env, info, &argc, NULL);
  if (!p) return NULL;
  napi_value out;
  napi_create_double(env, p->truncated, &out);
  return out;
}

/* port.packetStatistics() → [packets, drops] since the last call (PACKET_STATISTICS resets on read). */
static napi_value port_packet_statistics(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  port *p = unwrap(env, info, &argc, NULL);
  if (!p) return NULL;
  if (!p->is_socket || p->fd < 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: packet statistics need an open packet socket", p->label);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) {
    char what[160];
    snprintf(what, sizeof what, "%s: PACKET_STATISTICS", p->label);
    return throw_errno(env, errno, what);
  }
  napi_value arr, v;
  CHECK(env, napi_create_array_with_length(env, 2, &arr));
  napi_create_uint32(env, st.tp_packets, &v);
  napi_set_element(env, arr, 0, v);
  napi_create_uint32(env, st.tp_drops, &v);
  napi_set_element(env, arr, 1, v);
  return arr;
}

/* The Port constructor is not callable from JS: ports come only from openTap/openPacketSocket. */
static napi_value port_construct(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  return self;
}

/* Wraps an open fd in a new Port object with `name` and `ifindex` properties; closes fd on failure. */
static napi_value make_port(napi_env env, int fd, int is_socket, const char *label, const char *ifname, unsigned ifindex) {
  napi_value ctor, obj, v;
  instance_data *inst;
  napi_get_instance_data(env, (void **)&inst);
  port *p = calloc(1, sizeof *p);
  if (!p) {
    close(fd);
    napi_throw_error(env, "ENOMEM", "frame_io: out of memory");
    return NULL;
  }
  p->env = env;
  p->fd = fd;
  p->is_socket = is_socket;
  snprintf(p->label, sizeof p->label, "%s", label);
  if (napi_get_reference_value(env, inst->port_constructor, &ctor) != napi_ok ||
      napi_new_instance(env, ctor, 0, NULL, &obj) != napi_ok ||
      napi_wrap(env, obj, p, port_finalize, NULL, NULL) != napi_ok) {
    close(fd);
    free(p);
    return NULL;
  }
  /* From here on the finalizer owns p (and closes fd). */
  CHECK(env, napi_create_reference(env, obj, 0, &p->self));
  CHECK(env, napi_create_string_utf8(env, ifname, NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, "name", v));
  CHECK(env, napi_create_uint32(env, ifindex, &v));
  CHECK(env, napi_set_named_property(env, obj, "ifindex", v));
  return obj;
}

/* ---- openTap(name, netnsPath) ---- */

static napi_value open_tap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1], netns[4096] = "", who[64], what[128];
  if (argc < 1 || get_string(env, argv[0], name, sizeof name, "openTap: name") < 0) return NULL;
  if (argc >= 2 && !is_nullish(env, argv[1]) && get_string(env, argv[1], netns, sizeof netns, "openTap: netns") < 0)
    return NULL;
  snprintf(who, sizeof who, "openTap %s", name);

  int saved;
  if (enter_netns(env, netns, &saved, who) < 0) return NULL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int err = errno;
  unsigned ifindex = 0;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (fd >= 0) {
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno;
      close(fd);
      fd = -1;
      snprintf(what, sizeof what, "%s: TUNSETIFF", who);
    } else {
      ifindex = if_nametoindex(ifr.ifr_name);
    }
  } else {
    snprintf(what, sizeof what, "%s: open /dev/net/tun", who);
  }
  leave_netns(saved);
  if (fd < 0) {
    if (err == EBUSY) snprintf(what, sizeof what, "%s: the name is taken", who);
    return throw_errno(env, err, what);
  }
  char label[96];
  snprintf(label, sizeof label, "TAP %s", ifr.ifr_name);
  return make_port(env, fd, 0, label, ifr.ifr_name, ifindex);
}

/* ---- openPacketSocket(ifname, netnsPath, protocol, fanoutGroup, fanoutMode, ignoreOutgoing, filter, rcvbuf) ---- */

static napi_value open_packet_socket(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "openPacketSocket: 8 arguments expected");
    return NULL;
  }
  char ifname[IFNAMSIZ + 1], netns[4096] = "", who[64], what[160];
  if (get_string(env, argv[0], ifname, sizeof ifname, "openPacketSocket: ifname") < 0) return NULL;
  if (!is_nullish(env, argv[1]) && get_string(env, argv[1], netns, sizeof netns, "openPacketSocket: netns") < 0)
    return NULL;
  uint32_t protocol, fanout_mode, rcvbuf;
  int32_t fanout_group;
  bool ignore_outgoing;
  CHECK(env, napi_get_value_uint32(env, argv[2], &protocol));
  CHECK(env, napi_get_value_int32(env, argv[3], &fanout_group));
  CHECK(env, napi_get_value_uint32(env, argv[4], &fanout_mode));
  CHECK(env, napi_get_value_bool(env, argv[5], &ignore_outgoing));
  CHECK(env, napi_get_value_uint32(env, argv[7], &rcvbuf));
  snprintf(who, sizeof who, "openPacketSocket %s", ifname);

  /* filter: Uint32Array of [code, jt, jf, k] quadruples, or null. */
  struct sock_filter *insns = NULL;
  unsigned short ninsns = 0;
  if (!is_nullish(env, argv[6])) {
    napi_typedarray_type type;
    size_t length;
    void *data;
    if (napi_get_typedarray_info(env, argv[6], &type, &length, &data, NULL, NULL) != napi_ok ||
        type != napi_uint32_array || length % 4 || length == 0 || length / 4 > BPF_MAXINSNS) {
      napi_throw_type_error(env, NULL, "openPacketSocket: filter must be 1..4096 [code, jt, jf, k] instructions");
      return NULL;
    }
    ninsns = (unsigned short)(length / 4);
    insns = calloc(ninsns, sizeof *insns);
    if (!insns) return throw_errno(env, ENOMEM, who);
    const uint32_t *q = data;
    for (unsigned i = 0; i < ninsns; i++) {
      insns[i].code = (uint16_t)q[4 * i];
      insns[i].jt = (uint8_t)q[4 * i + 1];
      insns[i].jf = (uint8_t)q[4 * i + 2];
      insns[i].k = q[4 * i + 3];
    }
  }

  int saved;
  if (enter_netns(env, netns, &saved, who) < 0) {
    free(insns);
    return NULL;
  }
  /* Protocol 0 until bound: a socket() with a protocol starts receiving from every interface at once. */
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = 0;
  unsigned ifindex = 0;
  if (fd < 0) {
    err = errno;
    snprintf(what, sizeof what, "%s: socket(AF_PACKET)", who);
  } else if (!(ifindex = if_nametoindex(ifname))) {
    err = errno;
    snprintf(what, sizeof what, "%s: no such interface%s%s", who, netns[0] ? " in " : "", netns);
  }
  if (!err && insns) {
    struct sock_fprog prog = {.len = ninsns, .filter = insns};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: SO_ATTACH_FILTER", who);
    }
  }
  if (!err && ignore_outgoing) {
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: PACKET_IGNORE_OUTGOING", who);
    }
  }
  if (!err && rcvbuf) {
    int size = (int)rcvbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: SO_RCVBUFFORCE", who);
    }
  }
  if (!err) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons((uint16_t)protocol);
    sll.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: bind", who);
    }
  }
  if (!err && fanout_group >= 0) {
    int arg = (fanout_group & 0xffff) | (int)(fanout_mode << 16);
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: PACKET_FANOUT group %d", who, fanout_group);
    }
  }
  leave_netns(saved);
  free(insns);
  if (err) {
    if (fd >= 0) close(fd);
    return throw_errno(env, err, what);
  }
  char label[96];
  snprintf(label, sizeof label, "packet socket on %s", ifname);
  return make_port(env, fd, 1, label, ifname, ifindex);
}

/* ---- route netlink ---- */

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* openRouteNetlink(ifname, netnsPath) -> [fd, ifindex of ifname]: a NETLINK_ROUTE socket in that namespace. */
static napi_value open_route_netlink(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "openRouteNetlink: 2 arguments expected");
    return NULL;
  }
  char ifname[IFNAMSIZ + 1], netns[4096] = "", who[64], what[160];
  if (get_string(env, argv[0], ifname, sizeof ifname, "openRouteNetlink: ifname") < 0) return NULL;
  if (!is_nullish(env, argv[1]) && get_string(env, argv[1], netns, sizeof netns, "openRouteNetlink: netns") < 0)
    return NULL;
  snprintf(who, sizeof who, "openRouteNetlink %s", ifname);
  int saved;
  if (enter_netns(env, netns, &saved, who) < 0) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int err = 0;
  unsigned ifindex = 0;
  if (fd < 0) {
    err = errno;
    snprintf(what, sizeof what, "%s: socket(AF_NETLINK)", who);
  } else if (!(ifindex = if_nametoindex(ifname))) {
    err = errno;
    snprintf(what, sizeof what, "%s: no such interface%s%s", who, netns[0] ? " in " : "", netns);
  }
  if (!err) {
    int one = 1;
    struct sockaddr_nl snl;
    memset(&snl, 0, sizeof snl);
    snl.nl_family = AF_NETLINK;
    if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: NETLINK_CAP_ACK", who);
    } else if (bind(fd, (struct sockaddr *)&snl, sizeof snl) < 0) {
      err = errno;
      snprintf(what, sizeof what, "%s: bind", who);
    }
  }
  leave_netns(saved);
  if (err) {
    if (fd >= 0) close(fd);
    return throw_errno(env, err, what);
  }
  napi_value out, v;
  CHECK(env, napi_create_array_with_length(env, 2, &out));
  CHECK(env, napi_create_int32(env, fd, &v));
  CHECK(env, napi_set_element(env, out, 0, v));
  CHECK(env, napi_create_uint32(env, ifindex, &v));
  CHECK(env, napi_set_element(env, out, 1, v));
  return out;
}

/*
 * netlinkTransact(fd, request) -> Buffer: sends the request (netlink messages back to back) to the
 * kernel in one sendmsg and returns every answer the kernel queued meanwhile, back to back.
 */
static napi_value netlink_transact(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  size_t length;
  void *data;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || !uint8_arg(env, 1, argv[1], &data, &length)) {
    napi_throw_type_error(env, NULL, "netlinkTransact: (fd, request Buffer) expected");
    return NULL;
  }
  ssize_t r;
  do {
    r = send(fd, data, length, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "netlinkTransact: send");
  instance_data *inst;
  napi_get_instance_data(env, (void **)&inst);
  size_t used = 0;
  /* Answers are already queued: read until the queue is empty (each read one datagram, at most 64 KiB). */
  while (used + MAX_FRAME <= sizeof inst->scratch) {
    r = recv(fd, inst->scratch + used, MAX_FRAME, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return throw_errno(env, errno, "netlinkTransact: recv");
    }
    used += (size_t)r;
  }
  napi_value out;
  void *copy;
  CHECK(env, napi_create_buffer_copy(env, used, inst->scratch, &copy, &out));
  return out;
}

static napi_value netlink_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "netlinkClose: fd expected");
    return NULL;
  }
  close(fd);
  return NULL;
}

/* ---- module ---- */

static void free_instance(napi_env env, void *data, void *hint) {
  (void)hint;
  instance_data *inst = data;
  if (inst->port_constructor) napi_delete_reference(env, inst->port_constructor);
  free(inst);
}

static napi_value constant(napi_env env, napi_value exports, const char *name, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, exports, name, v);
  return v;
}

NAPI_MODULE_INIT() {
  instance_data *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, free_instance, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, "ENOMEM", "frame_io: out of memory");
    return NULL;
  }
  napi_property_descriptor methods[] = {
      {"start", NULL, port_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, port_stop, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, port_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, port_close, NULL, NULL, NULL, napi_default, NULL},
      {"truncated", NULL, port_truncated, NULL, NULL, NULL, napi_default, NULL},
      {"packetStatistics", NULL, port_packet_statistics, NULL, NULL, NULL, napi_default, NULL},
      {"acceptOnly", NULL, port_accept_only, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value ctor, fn;
  CHECK(env, napi_define_class(env, "FramePort", NAPI_AUTO_LENGTH, port_construct, NULL,
                               sizeof methods / sizeof methods[0], methods, &ctor));
  CHECK(env, napi_create_reference(env, ctor, 1, &inst->port_constructor));
  CHECK(env, napi_create_function(env, "openTap", NAPI_AUTO_LENGTH, open_tap, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "openTap", fn));
  CHECK(env, napi_create_function(env, "openPacketSocket", NAPI_AUTO_LENGTH, open_packet_socket, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "openPacketSocket", fn));
  CHECK(env, napi_create_function(env, "openRouteNetlink", NAPI_AUTO_LENGTH, open_route_netlink, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "openRouteNetlink", fn));
  CHECK(env, napi_create_function(env, "netlinkTransact", NAPI_AUTO_LENGTH, netlink_transact, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "netlinkTransact", fn));
  CHECK(env, napi_create_function(env, "netlinkClose", NAPI_AUTO_LENGTH, netlink_close, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "netlinkClose", fn));
  constant(env, exports, "BATCH", BATCH);
  constant(env, exports, "MAX_FRAME", MAX_FRAME);
  constant(env, exports, "ETH_P_ALL", ETH_P_ALL);
  constant(env, exports, "ETH_P_IPV6", ETH_P_IPV6);
  constant(env, exports, "FANOUT_HASH", PACKET_FANOUT_HASH);
  constant(env, exports, "FANOUT_LB", PACKET_FANOUT_LB);
  constant(env, exports, "FANOUT_CPU", PACKET_FANOUT_CPU);
  return exports;
}
