// The original destination of a connection redirected by iptables REDIRECT
// (SO_ORIGINAL_DST), read through the native addon. Used by inbound listeners
// with `forward: original` and outbound listeners with `connect: original`.
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { CaptureError } from '../errors.js';
import { loadAddon } from './addon.js';

export interface OriginalDst {
  address: string;
  port: number;
  family: 4 | 6;
}

/** Undefined when `original` can be used here, else why not (one line). */
export function originalDstProblem(): string | undefined {
  return loadAddon().problem;
}

/**
 * The address and port the peer connected to before iptables redirected the
 * connection to this listener. Throws CaptureError when the addon is missing,
 * the socket has no descriptor, or the connection was not redirected (it was made
 * to the listener itself: following it would loop back into this listener).
 */
export function originalDst(socket: Socket): OriginalDst {
  const { addon, problem } = loadAddon();
  if (!addon) throw new CaptureError(`original destination: ${problem}`);
  const fd = socketFd(socket);
  if (fd === undefined) throw new CaptureError('original destination: the socket has no file descriptor (closed, or not a TCP socket)');
  let dst: OriginalDst;
  try {
    dst = addon.originalDst(fd);
  } catch (err) {
    throw new CaptureError(`original destination: ${explain(err)}`, { cause: err });
  }
  if (dst.port === socket.localPort && dst.address === unmapped(socket.localAddress)) {
    throw new CaptureError(
      `original destination: the connection was not redirected (it was made to this listener, ${dst.address}:${dst.port}, directly)`,
    );
  }
  return { address: dst.address, port: dst.port, family: dst.family };
}

/** The descriptor behind a net.Socket or a tls.TLSSocket (TLSWrap forwards `fd`). */
function socketFd(socket: Socket): number | undefined {
  const s = socket as Socket & { _handle?: { fd?: number } | null; _parent?: { _handle?: { fd?: number } | null } | null };
  const fd = s._handle?.fd ?? s._parent?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function unmapped(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function explain(err: unknown): string {
  const errno = (err as { errno?: number }).errno;
  const name = errno === undefined ? undefined : ERRNO_NAMES.get(errno);
  switch (name) {
    case 'ENOENT':
      return 'the connection was not redirected (conntrack has no entry for it: are the `tlsmesh init` rules in this network namespace?)';
    case 'ENOPROTOOPT':
      return 'the kernel has no connection tracking for this address family (no `tlsmesh init` rules, or ip6tables nat missing)';
    case 'ENOTCONN':
    case 'EBADF':
    case 'ENOTSOCK':
      return `the socket is closed or not a connection (${name})`;
    default: {
      const msg = err instanceof Error ? err.message : String(err);
      return name ? `${msg} (${name})` : msg;
    }
  }
}
