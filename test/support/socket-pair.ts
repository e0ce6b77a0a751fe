// Connected TCP socket pairs on 127.0.0.1 for unit tests of what runs on
// sockets (splice, the multiplexing frames): real sockets, no mocks.
import net, { type Socket } from 'node:net';

export interface SocketPairs {
  /** A connected pair: `near` is what the test drives, `far` the accepted end. */
  pair(): Promise<{ near: Socket; far: Socket }>;
  /** Destroy every socket and close every server made so far (call it in afterEach). */
  cleanup(): void;
}

export function socketPairs(o: { allowHalfOpen?: boolean } = {}): SocketPairs {
  const open: Socket[] = [];
  const servers: net.Server[] = [];
  return {
    async pair() {
      const server = net.createServer({ allowHalfOpen: o.allowHalfOpen });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const accepted = new Promise<Socket>((r) => server.once('connection', r));
      const near = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: o.allowHalfOpen });
      const far = await accepted;
      await new Promise((r) => (near.connecting ? near.once('connect', r) : r(undefined)));
      open.push(near, far);
      return { near, far };
    },
    cleanup() {
      for (const s of open.splice(0)) s.destroy();
      for (const s of servers.splice(0)) s.close();
    },
  };
}
