/**
 * Many synthetic DHCPv6 clients on one Ethernet port, for the relay benchmark: runs inside a
 * namespace attached to the pod's L2 (`ip netns exec <ns> node --import tsx load-client.ts '<json>'`),
 * injects each client's Solicit with libpcap from its own MAC and EUI-64 link-local, answers every
 * Advertise with a Request, and counts the Replies: full Solicit/Advertise/Request/Reply exchanges,
 * `window` of them in flight at once. Prints one JSON LoadResult.
 */
import cap from 'cap';
import { decodeFrame } from '../packet/frame.ts';
import { DHCPV6_CLIENT_PORT } from '../packet/constants.ts';
import { findOption, findOptions, type ClientServerMessage } from '../packet/dhcpv6.ts';
import { clientFrame, duidLl } from '../packet/dhcpv6-client-frame.ts';
import { linkLocalAddress } from '../addr/slaac.ts';
import { formatMac } from '../addr/mac.ts';

export interface LoadScript {
  iface: string;
  clients: number;
  window: number;
  durationMs: number;
  /** Second byte of every synthetic MAC (02:<tag>:…), so two runs never share clients. */
  tag: number;
}

export interface LoadResult {
  started: number;
  completed: number;
  seconds: number;
  exchangesPerSecond: number;
  prefixes: number;
}

/** An exchange with no answer for this long is counted lost and its slot reused. */
const LOST_AFTER_MS = 1000;

const frameFor = (mac: string, message: ClientServerMessage): Buffer => clientFrame(mac, linkLocalAddress(mac), message);

function run(script: LoadScript): Promise<LoadResult> {
  const macOf = (i: number) => formatMac(Uint8Array.of(0x02, script.tag, (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff));
  const clientId = (mac: string) => ({ type: 'client-id' as const, duid: duidLl(mac) });
  // Solicits are built before the clock starts: the driver shares the CPUs with the relay and Kea.
  const solicits = Array.from({ length: script.clients }, (_, i) => {
    const mac = macOf(i);
    return frameFor(mac, {
      type: 'solicit',
      transactionId: i & 0xffffff,
      options: [clientId(mac), { type: 'elapsed-time', centiseconds: 0 }, { type: 'ia-pd', iaid: 1, t1: 0, t2: 0, options: [] }],
    });
  });
  const pcap = new cap.Cap();
  const buffer = Buffer.alloc(65535);
  pcap.open(script.iface, `ip6 and udp dst port ${DHCPV6_CLIENT_PORT}`, 32 * 1024 * 1024, buffer);
  const state = new Map<string, { phase: 'solicited' | 'requested' | 'done'; at: number }>();
  let next = 0;
  let completed = 0;
  let prefixes = 0;
  let start = 0;
  const launch = () => {
    if (next >= script.clients) return;
    const f = solicits[next]!;
    state.set(macOf(next), { phase: 'solicited', at: performance.now() });
    next++;
    pcap.send(f, f.length);
  };
  return new Promise((resolve) => {
    pcap.on('packet', (nbytes) => {
      let frame;
      try {
        frame = decodeFrame(buffer.subarray(0, nbytes));
      } catch {
        return;
      }
      const msg = frame.dhcpv6;
      const mac = frame.ethernet.dst;
      if (!msg || (msg.type !== 'advertise' && msg.type !== 'reply')) return;
      const s = state.get(mac)?.phase;
      if (msg.type === 'advertise' && s === 'solicited') {
        state.set(mac, { phase: 'requested', at: performance.now() });
        const request: ClientServerMessage = {
          type: 'request',
          transactionId: msg.transactionId ^ 0x800000,
          options: [clientId(mac), findOption(msg.options, 'server-id')!, { type: 'elapsed-time', centiseconds: 0 }, ...findOptions(msg.options, 'ia-pd')],
        };
        const f = frameFor(mac, request);
        pcap.send(f, f.length);
      } else if (msg.type === 'reply' && s === 'requested') {
        state.set(mac, { phase: 'done', at: 0 });
        completed++;
        prefixes += findOptions(msg.options, 'ia-pd').flatMap((ia) => findOptions(ia.options, 'iaprefix')).length;
        launch();
      }
    });
    start = performance.now();
    for (let i = 0; i < script.window; i++) launch();
    // Lost exchanges (drops under load) are replaced so the window stays full.
    const refill = setInterval(() => {
      const recent = performance.now() - LOST_AFTER_MS;
      let inFlight = 0;
      for (const v of state.values()) if (v.phase !== 'done' && v.at > recent) inFlight++;
      for (let i = inFlight; i < script.window; i++) launch();
    }, 500);
    setTimeout(() => {
      clearInterval(refill);
      const seconds = (performance.now() - start) / 1000;
      pcap.close();
      resolve({ started: next, completed, seconds, exchangesPerSecond: completed / seconds, prefixes });
    }, script.durationMs);
  });
}

const arg = process.argv[2];
if (!arg) throw new Error("usage: load-client.ts '<LoadScript JSON>'");
process.stdout.write(`${JSON.stringify(await run(JSON.parse(arg) as LoadScript))}\n`);
