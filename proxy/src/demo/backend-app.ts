// The demo's backend app, a process of its own: plain HTTP on 127.0.0.1, it
// answers every request with who called it, read from the identity header
// its sidecar adds (x-forwarded-client-cert, Envoy's format). It knows
// nothing about TLS: that is the sidecar's job.
//   node backend-app.js PORT
import http from 'node:http';

const port = Number(process.argv[2]);
let served = 0;

function callerOf(xfcc: string | undefined): string | null {
  return xfcc ? (/(?:^|;)URI=([^;,]+)/.exec(xfcc)?.[1] ?? null) : null;
}

const server = http.createServer((req, res) => {
  const xfcc = req.headers['x-forwarded-client-cert'];
  const header = Array.isArray(xfcc) ? xfcc.join(',') : xfcc;
  served += 1;
  const body = JSON.stringify({ app: 'backend', path: req.url, caller: callerOf(header), xfcc: header ?? null, served });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`backend app listening on 127.0.0.1:${port}\n`));
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(`backend app: cannot listen on 127.0.0.1:${port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}\n`);
  process.exit(1);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
