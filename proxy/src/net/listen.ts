import type { Server } from 'node:net';
import { TlsmeshError } from '../errors.js';
import { formatHostPort, type HostPort } from '../config/index.js';

export class ListenError extends TlsmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_LISTEN', message, options);
  }
}

/** listen() as a promise, with an error that names the config field and address. */
export function listenOn(server: Server, at: HostPort, field: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new ListenError(`${field}: cannot listen on ${formatHostPort(at)}: ${why}`, { cause: err }));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: at.host, port: at.port, backlog: 4096 });
  });
}
