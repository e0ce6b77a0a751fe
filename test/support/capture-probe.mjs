#!/usr/bin/env node
// A stand-in for apps and capture listeners in capture tests, run inside network
// namespaces (plain node, no build step beyond dist/).
//   serve NAME PORT [HOST]  answer every connection with one JSON line
//                           {name, local, original | originalError}, then close;
//                           prints "listening" when ready
//   ask HOST PORT           print what the server at HOST:PORT answers
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
} else {
  console.error('usage: capture-probe.mjs serve NAME PORT [HOST] | ask HOST PORT');
  process.exit(2);
}
