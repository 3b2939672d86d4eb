/**
 * A DHCPv6 client built from the codec, for the relay's tests: runs inside an instance's namespace
 * (`ip netns exec <ns> node --import tsx test-client.ts '<json>'`) on a UDP socket bound to the
 * instance's link-local, port 546, and talks to ff02::1:2 like a real client. Solicit (any number
 * of IA_PDs) → every Advertise → Request to the first → every Reply; or, with `raw`, just sends
 * the given datagrams (forged or malformed) from the given port. Prints one JSON TestClientResult.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { decodeDhcpv6, encodeDhcpv6, findOption, findOptions, isRelayMessage, type ClientServerMessage, type Dhcpv6Message } from '../packet/dhcpv6.ts';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/frame.ts';

export interface TestClientScript {
  iface: string;
  linkLocal: string;
  /** DUID-LL link-layer address (client-chosen, untrusted). */
  duid: string;
  iaids: number[];
  /** Datagrams to send instead of an exchange: hex payload and source port. */
  raw?: { hex: string; srcPort: number }[];
  /** How long to collect Advertises/Replies. */
  collectMs?: number;
}

export interface IaPdSeen {
  iaid: number;
  prefixes: string[];
  status?: number;
}

export interface TestClientResult {
  advertises: IaPdSeen[][];
  replies: IaPdSeen[][];
}

const ALL_DHCP = 'ff02::1:2';

function iaPds(msg: ClientServerMessage): IaPdSeen[] {
  return findOptions(msg.options, 'ia-pd').map((ia) => {
    const status = findOption(ia.options, 'status-code')?.code;
    return { iaid: ia.iaid, prefixes: findOptions(ia.options, 'iaprefix').map((p) => `${p.prefix}/${p.prefixLength}`), ...(status !== undefined ? { status } : {}) };
  });
}

async function main(script: TestClientScript): Promise<TestClientResult> {
  const port = script.raw?.[0]?.srcPort ?? DHCPV6_CLIENT_PORT;
  const sock = createSocket({ type: 'udp6', reuseAddr: true });
  const received: ClientServerMessage[] = [];
  sock.on('message', (buf) => {
    try {
      const m = decodeDhcpv6(buf);
      if (!isRelayMessage(m) && m.type !== 'unknown') received.push(m);
    } catch {
      // not a message the test looks at
    }
  });
  await new Promise<void>((r) => sock.bind({ address: `${script.linkLocal}%${script.iface}`, port }, r));
  sock.setMulticastInterface(`::%${script.iface}`);
  const send = (buf: Buffer) => new Promise<void>((r, j) => sock.send(buf, DHCPV6_SERVER_PORT, `${ALL_DHCP}%${script.iface}`, (e) => (e ? j(e) : r())));
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const collectMs = script.collectMs ?? 1000;

  if (script.raw) {
    for (const d of script.raw) await send(Buffer.from(d.hex, 'hex'));
    await wait(200);
    sock.close();
    return { advertises: [], replies: [] };
  }
  const clientId = { type: 'client-id' as const, duid: { type: 'll' as const, hardwareType: 1, linkLayerAddress: script.duid } };
  const xid = randomInt(1 << 24);
  const solicit: Dhcpv6Message = {
    type: 'solicit',
    transactionId: xid,
    options: [clientId, { type: 'elapsed-time', centiseconds: 0 }, ...script.iaids.map((iaid) => ({ type: 'ia-pd' as const, iaid, t1: 0, t2: 0, options: [] }))],
  };
  await send(encodeDhcpv6(solicit));
  await wait(collectMs);
  const advertises = received.filter((m) => m.type === 'advertise' && m.transactionId === xid);
  const first = advertises[0];
  let replies: ClientServerMessage[] = [];
  if (first) {
    const rxid = (xid + 1) % (1 << 24);
    const serverId = findOption(first.options, 'server-id')!;
    const request: Dhcpv6Message = {
      type: 'request',
      transactionId: rxid,
      options: [clientId, serverId, { type: 'elapsed-time', centiseconds: 0 }, ...findOptions(first.options, 'ia-pd').map((ia) => ({ ...ia, options: findOptions(ia.options, 'iaprefix') }))],
    };
    await send(encodeDhcpv6(request));
    await wait(collectMs);
    replies = received.filter((m) => m.type === 'reply' && m.transactionId === rxid);
  }
  sock.close();
  return { advertises: advertises.map(iaPds), replies: replies.map(iaPds) };
}

const arg = process.argv[2];
if (!arg) throw new Error("usage: test-client.ts '<TestClientScript JSON>'");
process.stdout.write(`${JSON.stringify(await main(JSON.parse(arg) as TestClientScript))}\n`);
