// Just enough pcap to check what crossed a veth: the TCP payload of each
// direction of each IPv4 connection in a capture file (tcpdump -w, Ethernet),
// and the TLS record layer of a byte stream.

export interface Flow {
  /** `src:port>dst:port` */
  key: string;
  payload: Buffer;
  fin: boolean;
  rst: boolean;
}

/** TCP payload per direction, in capture order (a veth neither drops nor reorders). */
export function tcpFlows(pcap: Buffer): Flow[] {
  if (pcap.length < 24) return [];
  const magic = pcap.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && pcap.readUInt32BE(0) !== 0xa1b2c3d4 && pcap.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number) => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`link type ${u32(20)}, expected Ethernet (1)`);
  const flows = new Map<string, { parts: Buffer[]; fin: boolean; rst: boolean }>();
  for (let off = 24; off + 16 <= pcap.length; ) {
    const caplen = u32(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) continue; // IPv4 only
    const ip = frame.subarray(14);
    if (ip[9] !== 6) continue; // TCP
    const ihl = (ip[0]! & 0x0f) * 4;
    const total = ip.readUInt16BE(2);
    const tcp = ip.subarray(ihl, total);
    const dataOff = (tcp[12]! >> 4) * 4;
    const payload = tcp.subarray(dataOff);
    const addr = (o: number) => `${ip[o]}.${ip[o + 1]}.${ip[o + 2]}.${ip[o + 3]}`;
    const key = `${addr(12)}:${tcp.readUInt16BE(0)}>${addr(16)}:${tcp.readUInt16BE(2)}`;
    const flow = flows.get(key) ?? { parts: [], fin: false, rst: false };
    flows.set(key, flow);
    if (payload.length > 0) flow.parts.push(Buffer.from(payload));
    flow.fin ||= (tcp[13]! & 0x01) !== 0;
    flow.rst ||= (tcp[13]! & 0x04) !== 0;
  }
  return [...flows].map(([key, f]) => ({ key, payload: Buffer.concat(f.parts), fin: f.fin, rst: f.rst }));
}

/** Every connection in the capture is over: reset, or FIN in both directions. */
export function allClosed(flows: Flow[]): boolean {
  const byKey = new Map(flows.map((f) => [f.key, f]));
  return flows.every((f) => {
    const [src, dst] = f.key.split('>');
    const back = byKey.get(`${dst}>${src}`);
    return f.rst || back?.rst || (f.fin && (back === undefined || back.fin));
  });
}

export interface TlsRecord {
  /** 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data */
  type: number;
  length: number;
}

/** The stream as TLS records; throws if any byte is not part of a well-formed record. */
export function tlsRecords(stream: Buffer): TlsRecord[] {
  const records: TlsRecord[] = [];
  for (let off = 0; off < stream.length; ) {
    if (off + 5 > stream.length) throw new Error(`truncated TLS record header at byte ${off}`);
    const type = stream[off]!;
    const major = stream[off + 1]!;
    const length = stream.readUInt16BE(off + 3);
    if (type < 20 || type > 23 || major !== 3) throw new Error(`not a TLS record at byte ${off}: ${stream.subarray(off, off + 8).toString('hex')}`);
    if (off + 5 + length > stream.length) throw new Error(`truncated TLS record at byte ${off}`);
    records.push({ type, length });
    off += 5 + length;
  }
  return records;
}
