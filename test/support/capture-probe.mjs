#!/usr/bin/env node
// A stand-in for apps and capture listeners in capture tests, run inside network
// namespaces (plain node, no build step beyond dist/).
//   serve NAME PORT [HOST]  answer every connection with one JSON line
//                           {name, local, original | originalError}, then close;
//                           prints "listening" when ready
//   ask HOST PORT           print what the server at HOST:PORT answers
//   http-serve NAME PORT    an HTTP app answering 200 with JSON
//                           {name, method, url, headers, remote}; logs each request
//   http-get URL            print the status line number, then the body
import http from 'node:http';
import net from 'node:net';
import { originalDst } from '../../dist/proxy/src/capture/original-dst.js';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const [name, port, host = '0.0.0.0'] = args;
  const server = net.createServer((socket) => {
    const answer = { name, local: `${socket.localAddress}:${socket.localPort}` };
    try {
      answer.original = originalDst(socket);
    } catch (err) {
      answer.originalError = err.message;
    }
    socket.end(`${JSON.stringify(answer)}\n`);
  });
  server.listen(Number(port), host, () => console.log(`listening ${host} ${port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else if (mode === 'ask') {
  const [host, port] = args;
  let data = '';
  const socket = net.connect({ host, port: Number(port), timeout: 5000 });
  socket.setEncoding('utf8').on('data', (d) => (data += d));
  socket.on('end', () => process.stdout.write(data));
  socket.on('timeout', () => {
    console.error('timeout');
    process.exit(1);
  });
  socket.on('error', (err) => {
    console.error(`error ${err.code}`);
    process.exit(1);
  });
} else if (mode === 'http-serve') {
  const [name, port] = args;
  const server = http.createServer((req, res) => {
    console.log(`request ${req.method} ${req.url} from ${req.socket.remoteAddress}`);
    const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, remote: req.socket.remoteAddress });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(Number(port), '0.0.0.0', () => console.log(`listening 0.0.0.0 ${port}`));
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
} else if (mode === 'http-get') {
  const [url] = args;
  const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d) => (body += d));
    res.on('end', () => process.stdout.write(`${res.statusCode}\n${body}`));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
  req.on('error', (err) => {
    console.error(`error ${err.code ?? err.message}`);
    process.exit(1);
  });
} else {
  console.error('usage: capture-probe.mjs serve NAME PORT [HOST] | ask HOST PORT | http-serve NAME PORT | http-get URL');
  process.exit(2);
}
