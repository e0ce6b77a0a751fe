// The destination a TCP connection had before iptables REDIRECT/DNAT rewrote it
// (SO_ORIGINAL_DST, read from conntrack). Node has no API for it; this addon is
// one function, originalDst(fd) -> { family, address, port }, and nothing else.
// Errors are thrown as Error objects with a numeric `errno`; the TypeScript side
// (proxy/src/capture/original-dst.ts) turns them into CaptureErrors.
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

// Stable kernel ABI: linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h.
// Defined here because those headers clash with glibc's netinet/in.h.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_value message, error, code;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, error, "errno", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }

  // The listening socket's family decides the option: an IPv4 connection
  // accepted on a dual-stack IPv6 socket (::ffff:a.b.c.d) is tracked as IPv4.
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return throw_errno(env, "getsockname", errno);
  int ipv6 = local.ss_family == AF_INET6 &&
             !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr);
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return throw_errno(env, "getsockname", EAFNOSUPPORT);

  struct sockaddr_storage orig;
  memset(&orig, 0, sizeof orig);
  int rc;
  if (ipv6) {
    len = sizeof(struct sockaddr_in6);
    rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &orig, &len);
  } else {
    len = sizeof(struct sockaddr_in);
    rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &len);
  }
  if (rc != 0) return throw_errno(env, ipv6 ? "getsockopt(IP6T_SO_ORIGINAL_DST)" : "getsockopt(SO_ORIGINAL_DST)", errno);

  char text[INET6_ADDRSTRLEN];
  int family, port;
  if (orig.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&orig;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    family = 6;
    port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&orig;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    family = 4;
    port = ntohs(a->sin_port);
  }

  napi_value result, v_family, v_address, v_port;
  napi_create_object(env, &result);
  napi_create_int32(env, family, &v_family);
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &v_address);
  napi_create_int32(env, port, &v_port);
  napi_set_named_property(env, result, "family", v_family);
  napi_set_named_property(env, result, "address", v_address);
  napi_set_named_property(env, result, "port", v_port);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
