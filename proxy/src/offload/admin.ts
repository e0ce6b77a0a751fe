// GET /offload on the admin listener: what every offload listener serves (per
// certificate source: names, serial, expiry, reload counts, last error), where
// its redirect listener is, and how ACME is doing. Public data only: never a key.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { send, type AdminHandler } from '../admin/server.js';
import type { HostPort } from '../config/index.js';
import type { Offload } from './offload.js';

export interface OffloadListenerView {
  name: string;
  address(): HostPort;
  readonly offload?: Offload;
}

export function offloadDocument(listeners: readonly OffloadListenerView[]): unknown {
  return {
    listeners: listeners
      .filter((l) => l.offload)
      .map((l) => {
        const o = l.offload!;
        let redirect: HostPort | null = null;
        try {
          redirect = o.redirect?.address() ?? null;
        } catch {
          redirect = null; // not listening (yet, or any more)
        }
        return { name: l.name, ownCertificates: o.ownsCertificates, redirect, certificates: o.describe(), acme: o.acme?.status() ?? null };
      }),
  };
}

/** Admin routes to merge into the admin server's prefix routes (none without offload listeners). */
export function offloadAdminRoutes(listeners: readonly OffloadListenerView[]): Record<string, AdminHandler> {
  if (!listeners.some((l) => l.offload)) return {};
  return {
    '/offload': (_req: IncomingMessage, res: ServerResponse, path: string) => {
      if (path !== '/offload') return send(res, 404, 'not found\n');
      send(res, 200, `${JSON.stringify(offloadDocument(listeners), null, 2)}\n`, { 'content-type': 'application/json' });
    },
  };
}
