// Observe what a running sidecar presents, by a real handshake.
import tls from 'node:tls';

/** The serial number (lowercase hex) of the certificate the server at `port` presents. */
export function servedSerial(port: number, o: { ca: string; cert?: string; key?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: o.ca, cert: o.cert, key: o.key, checkServerIdentity: () => undefined }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '';
      s.destroy();
      resolve(serial);
    });
    s.on('error', reject);
  });
}
