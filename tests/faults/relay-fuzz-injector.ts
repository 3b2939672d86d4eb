/**
 * The relay fuzz's injector, run inside a namespace (`ip netns exec NS node --import tsx
 * relay-fuzz-injector.ts '<json>'`) by relay-fuzz.ts. Each line on stdin is a count N: it sends the
 * next N seeded packets and answers one JSON line {sent, reaching}. Two sides:
 *  - lan: Ethernet frames injected with libpcap from a namespace on the ToR bridge: mutants of the
 *    golden capture's DHCPv6 frames (harness/packet/testing/mutate.ts) and random bytes. The MACs
 *    are set so the bridge delivers every frame to the relay's port — from this port's MAC (a
 *    bridge drops multicast sources before any relay could), to All_DHCP_Relay_Agents_and_Servers,
 *    the router, or a MAC no port has (flooded) — and frames are cut to what a veth carries.
 *    `reaching`: frames the relay's capture filter takes (its BPF: IPv6, UDP, destination port 547).
 *  - server: UDP datagrams from the server's own address to the relay's service address port 547:
 *    mutants of Relay-Replies built around the capture's server messages, and random bytes.
 */
import cap from 'cap';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { readPcap } from '../../harness/packet/pcap.ts';
import { decodeFrame } from '../../harness/packet/frame.ts';
import { DHCPV6_SERVER_PORT } from '../../harness/packet/constants.ts';
import { encodeDhcpv6, type Dhcpv6Message } from '../../harness/packet/dhcpv6.ts';
import { macToBytes } from '../../harness/addr/bytes.ts';
import { mutate, randomFrame } from '../../harness/packet/testing/mutate.ts';
import { prng, type Rng } from '../../harness/os/prng.ts';

export interface InjectorScript {
  side: 'lan' | 'server';
  seed: number;
  /** lan: the interface to inject on and its MAC; the router's MAC (a destination). */
  iface?: string;
  mac?: string;
  routerMac?: string;
  /** server: where from (the server's address) and to (the relay's service address). */
  from?: string;
  to?: string;
  /** server: these datagrams (hex), in order, instead of mutants (a reproducer replays what a fuzz found). */
  replay?: string[];
  /** Relay-Reply seeds: the relay's link-address and Interface-Id, the peer the replies are for. */
  linkAddress?: string;
  interfaceId?: string;
  peer?: string;
}

export interface InjectorReport {
  sent: number;
  reaching: number;
}

const GOLDEN = fileURLToPath(new URL('../../fixtures/golden/link.pcap', import.meta.url));
const ALL_DHCP_MAC = macToBytes('33:33:00:01:00:02');
/** A unicast MAC no port of the pod has: the bridge floods it, the relay sees a frame not for it. */
const NOBODY_MAC = macToBytes('02:00:5e:fe:fe:01');
/** Ethernet + 1500 bytes of payload: a longer frame never leaves the veth. */
const MAX_FRAME = 1514;
/** One random packet in this many (the rest are mutants). */
const RANDOM_EVERY = 8;

/** The relay's capture filter (lan-port.ts), as libpcap compiles it: ldh [12] = 0x86dd, ldb [20] = 17, ldh [56] = 547. */
export function passesCaptureFilter(f: Buffer): boolean {
  return f.length >= 58 && f.readUInt16BE(12) === 0x86dd && f[20] === 17 && f.readUInt16BE(56) === DHCPV6_SERVER_PORT;
}

const golden = readPcap(GOLDEN).records.map((r) => Buffer.from(r.data));
const dhcpFrames = golden.filter((f) => {
  try {
    return decodeFrame(f).dhcpv6 !== undefined;
  } catch {
    return false;
  }
});

function lanFrames(script: InjectorScript, rng: Rng): () => Buffer {
  const own = macToBytes(script.mac!);
  const router = macToBytes(script.routerMac!);
  return () => {
    let f = rng.int(RANDOM_EVERY) === 0 ? randomFrame(rng) : mutate(rng.pick(dhcpFrames), rng, dhcpFrames);
    if (f.length < 14) f = Buffer.concat([f, Buffer.alloc(14 - f.length)]);
    if (f.length > MAX_FRAME) f = f.subarray(0, MAX_FRAME);
    const to = rng.int(10);
    (to < 7 ? ALL_DHCP_MAC : to < 9 ? router : NOBODY_MAC).copy(f, 0);
    own.copy(f, 6);
    return f;
  };
}

function relayReplySeeds(script: InjectorScript): Buffer[] {
  const messages: Dhcpv6Message[] = [];
  for (const f of dhcpFrames) {
    const m = decodeFrame(f).dhcpv6!;
    if (m.type === 'advertise' || m.type === 'reply') messages.push(m);
  }
  return messages.map((message) =>
    encodeDhcpv6({
      type: 'relay-reply',
      hopCount: 0,
      linkAddress: script.linkAddress!,
      peerAddress: script.peer!,
      options: [
        { type: 'interface-id', id: Buffer.from(script.interfaceId!) },
        { type: 'relay-message', message },
      ],
    }),
  );
}

async function main(script: InjectorScript): Promise<void> {
  const rng = prng(script.seed);
  let send: (n: number) => Promise<InjectorReport>;
  let close: () => void;
  if (script.side === 'lan') {
    const next = lanFrames(script, rng);
    const pcap = new cap.Cap();
    pcap.open(script.iface!, 'ether dst 00:00:00:00:00:00 and ether src 00:00:00:00:00:00', 1024 * 1024, Buffer.alloc(65535));
    send = async (n) => {
      let reaching = 0;
      for (let i = 0; i < n; i++) {
        const f = next();
        if (passesCaptureFilter(f)) reaching++;
        pcap.send(f, f.length);
      }
      return { sent: n, reaching };
    };
    close = () => pcap.close();
  } else {
    const seeds = script.replay ? [] : relayReplySeeds(script);
    const replay = script.replay?.map((h) => Buffer.from(h, 'hex'));
    const sock = createSocket({ type: 'udp6' });
    await new Promise<void>((resolve) => sock.bind({ address: script.from!, port: 0 }, resolve));
    sock.setSendBufferSize(4 * 1024 * 1024);
    send = async (n) => {
      let sent = 0;
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < n; i++) {
        const d = replay ? replay.shift() : rng.int(RANDOM_EVERY) === 0 ? rng.bytes(rng.int(300)) : mutate(rng.pick(seeds), rng, seeds);
        if (!d) break;
        pending.push(new Promise((resolve) => sock.send(d, DHCPV6_SERVER_PORT, script.to!, (err) => ((sent += err ? 0 : 1), resolve()))));
      }
      await Promise.all(pending);
      return { sent, reaching: sent };
    };
    close = () => sock.close();
  }
  let buffered = '';
  let queue = Promise.resolve();
  process.stdin.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines.filter(Boolean)) queue = queue.then(async () => void process.stdout.write(`${JSON.stringify(await send(Number(line)))}\n`));
  });
  process.stdin.on('end', () => void queue.then(close));
}

const arg = process.argv[2];
if (!arg) throw new Error("usage: relay-fuzz-injector.ts '<InjectorScript JSON>'");
await main(JSON.parse(arg) as InjectorScript);
