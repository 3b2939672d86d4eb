/**
 * Mutated packets through the running relay (relay-fuzz.test.ts and bench/reliability.ts).
 * A pod with only r1's relay (so every Relay-Reply Kea sends goes to it and can be counted); two
 * injectors (relay-fuzz-injector.ts): one in a namespace on the ToR bridge sending mutated client
 * frames at the relay's LAN port, one in Kea's namespace sending mutated Relay-Replies from Kea's
 * address to the relay's service address. They send in chunks, each one once the relay has
 * counted the last (no capture buffer overflows, which its libpcap binding could not report).
 *
 * Accounting, every packet of the window:
 *  - client side: what the relay's counters say it took from the LAN (received per type + drops
 *    per reason) equals what the kernel passed through the relay's capture filter on that port, as
 *    an independent tcpdump with the same filter counts it (the injector predicts it too: the
 *    relay's libpcap binding reports no drops of its own, so a shortfall is a loss);
 *  - server side: what it took from its service socket equals the datagrams sent to it (ours plus
 *    Kea's, by Kea's pkt6-sent) less what the kernel dropped for a full socket buffer (Udp6RcvbufErrors);
 *  - relayed: each client message received went to the one server; each Relay-Reply received was
 *    delivered or dropped for a reason.
 * A valid client (the codec client in an instance: acquire, renew) is served before, during and after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { namespaceName } from '../../harness/pod/names.ts';
import { readState, writeState } from '../../netns/run-state.ts';
import type { InstancePlan, Plan, RouterPlan } from '../../harness/pod/plan.ts';
import { run } from '../../harness/os/exec.ts';
import { udp6RcvbufErrors } from '../../harness/os/snmp6.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { keaCommand } from '../../harness/os/control-socket.ts';
import { keaPaths } from '../../harness/control/kea-config.ts';
import { relayCommand, relayConfig, relayPaths, startRelay } from '../../netns/daemons/relay.ts';
import { dhcpClient } from '../../harness/probe/dhcp.ts';
import type { CounterSnapshot } from '../../harness/relay/counters.ts';
import type { InjectorReport, InjectorScript } from './relay-fuzz-injector.ts';
import { addTorPort } from './tor-port.ts';

const INJECTOR = fileURLToPath(new URL('./relay-fuzz-injector.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** The LAN injector's port on the ToR bridge: its MAC and link-local (the peer of the server side's Relay-Reply seeds). */
const FUZZ_MAC = '02:f2:00:00:00:01';
export const FUZZ_LINK_LOCAL = 'fe80::f2:ff:fe00:1';

/**
 * Up with only r1's relay. The ToR bridge stops handing bridged IPv6 to br_netfilter (on by default
 * in every namespace here, and it drops malformed IPv6 headers): a switch forwards what it gets, so
 * every mutant reaches the relay.
 */
export async function upFuzzPod(pod: Pod, podFile: string, runName: string): Promise<{ plan: Plan; router: RouterPlan }> {
  const { plan } = await up(pod, runName, { podFile, owner: process.pid, relays: false });
  const router = plan.routers[0]!;
  const record = await startRelay(plan, router);
  const state = readState(runName)!;
  writeState({ ...state, daemons: [...state.daemons, record] });
  await run(['sh', '-ec', 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-ip6tables'], { ns: namespaceName(runName, plan.pod.tor.name) });
  await addTorPort(plan, 'fuzz', FUZZ_MAC);
  return { plan, router };
}

/** Drop reasons of the relay's server side (relay-agent.ts fromServer), before and after it counts a Relay-Reply received. */
const SERVER_BEFORE = /^(unknown-server|server-malformed|from-server:.*)$/;
const SERVER_AFTER = /^(nested-relay-reply|foreign-link-address|foreign-interface-id|bad-relay-message|peer-not-link-local)$/;
// 'hop-count-exceeded' is counted as the client side's: a server-side one needs Relay-Replies nested 9 deep, which no mutant of a one-level seed reaches.

export interface SideCounts {
  /** Client side: frames the relay took from its capture. */
  clientSeen: number;
  /** Server side: datagrams it read from its service socket. */
  serverSeen: number;
  receivedClient: number;
  forwarded: number;
  receivedReplies: number;
  delivered: number;
  serverDropsAfter: number;
}

const sum = (t: Record<string, number>, pick: (k: string) => boolean) => Object.entries(t).reduce((n, [k, v]) => n + (pick(k) ? v : 0), 0);

export function sideCounts(c: CounterSnapshot): SideCounts {
  const clientDrops = sum(c.dropped, (k) => !SERVER_BEFORE.test(k) && !SERVER_AFTER.test(k));
  const receivedClient = sum(c.received, (k) => k.startsWith('client:'));
  const receivedReplies = c.received['server:relay-reply'] ?? 0;
  return {
    clientSeen: clientDrops + receivedClient,
    serverSeen: sum(c.dropped, (k) => SERVER_BEFORE.test(k)) + receivedReplies,
    receivedClient,
    forwarded: c.sent['server:relay-forward'] ?? 0,
    receivedReplies,
    delivered: sum(c.sent, (k) => k.startsWith('client:')),
    serverDropsAfter: sum(c.dropped, (k) => SERVER_AFTER.test(k)),
  };
}

function minus(a: CounterSnapshot, b: CounterSnapshot): CounterSnapshot {
  const d = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(x)
        .map(([k, v]) => [k, v - (y[k] ?? 0)])
        .filter(([, v]) => v !== 0),
    );
  return { received: d(a.received, b.received), sent: d(a.sent, b.sent), dropped: d(a.dropped, b.dropped), routes: a.routes };
}

/** One injector child (relay-fuzz-injector.ts) with a line protocol: a count in, an InjectorReport out. */
export class Injector {
  private readonly child: ChildProcess;
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  private buffered = '';
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(ns: string, script: InjectorScript) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', TSX, INJECTOR, JSON.stringify(script)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buffered += d;
      const parts = this.buffered.split('\n');
      this.buffered = parts.pop()!;
      this.lines.push(...parts.filter(Boolean));
      this.waiter?.();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('close', (code) => (resolve(code), this.waiter?.())));
  }

  async send(n: number): Promise<InjectorReport> {
    this.child.stdin!.write(`${n}\n`);
    while (!this.lines.length) {
      if (this.child.exitCode !== null) throw new Error(`the fuzz injector exited (${this.child.exitCode}): ${this.stderr.trim()}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
    return JSON.parse(this.lines.shift()!) as InjectorReport;
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

/** tcpdump with the relay's capture filter on the relay's LAN port: its count of what the capture saw, and its kernel drops. */
class Observer {
  private readonly child: ChildProcess;
  private stderr = '';

  constructor(ns: string, iface: string, filter: string) {
    this.child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-n', '-B', '32768', '-w', '/dev/null', filter], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
  }

  ready(): Promise<true> {
    return waitUntil(() => /listening on/.test(this.stderr), { timeoutMs: 10_000, what: () => `tcpdump to listen (${this.stderr.trim()})` });
  }

  async stop(): Promise<{ passed: number; dropped: number }> {
    const closed = new Promise<void>((r) => this.child.once('close', () => r()));
    this.child.kill('SIGINT');
    await closed;
    const n = (what: string) => Number(new RegExp(`(\\d+) packets? ${what}`).exec(this.stderr)?.[1] ?? NaN);
    // 'Received by filter': the kernel's count of frames past the filter, those its ring dropped
    // included (PACKET_STATISTICS adds tp_drops to tp_packets). 'Captured' would miss what was
    // still in libpcap's ring when tcpdump was stopped.
    return { passed: n('received by filter'), dropped: n('dropped by kernel') };
  }
}

export interface RelayFuzzOptions {
  plan: Plan;
  router: RouterPlan;
  /** Packets to put through the relay (counted as it takes them: frames past its capture filter, datagrams on its socket). */
  packets: number;
  /** Share of them sent at the server side. */
  serverShare?: number;
  seed: number;
  /** The valid client. */
  valid: InstancePlan;
  /** Packets per chunk (each sent once the relay has counted the previous one). */
  chunk?: number;
  progress?: (msg: string) => void;
}

export interface RelayFuzzResult {
  seconds: number;
  lan: { sent: number; reaching: number };
  server: { sent: number };
  observer: { passed: number; dropped: number };
  keaSent: number;
  rcvbufErrors: number;
  counters: CounterSnapshot;
  sides: SideCounts;
  valid: { before: boolean; during: { ok: number; failed: number }; after: boolean };
  relayAlive: boolean;
  /** Accounting that does not add up, a relay gone, a client not served. Empty when all is well. */
  problems: string[];
}

async function keaPkt6Sent(run: string): Promise<number> {
  const answer = await keaCommand(keaPaths(run).socket, 'statistic-get', { name: 'pkt6-sent' }, 10_000);
  const samples = (answer.arguments?.['pkt6-sent'] ?? []) as Array<[number, string]>;
  return samples[0]?.[0] ?? 0;
}

/** A full exchange of the valid client: acquire (Solicit … Reply) then renew, both answered. */
async function validExchange(inst: InstancePlan): Promise<boolean> {
  const r = await dhcpClient(inst, { steps: [{ op: 'acquire' }, { op: 'renew' }] });
  return r.steps.every((s) => s.answer === 'reply');
}

export async function relayFuzz(o: RelayFuzzOptions): Promise<RelayFuzzResult> {
  const say = o.progress ?? (() => undefined);
  const runName = o.plan.run;
  const socket = relayPaths(runName, o.router.name).socket;
  const counters = async () => (await relayCommand(socket, 'counters', undefined, 10_000)).arguments as unknown as CounterSnapshot;
  const cfg = relayConfig(o.plan, o.router);
  const relay = () => readState(runName)!.daemons.find((d) => d.name === 'dhcp6-relay' && d.node === o.router.name)!;
  const problems: string[] = [];

  const before = await validExchange(o.valid);
  if (!before) problems.push('the valid client was not served before the fuzz');

  const observer = new Observer(o.router.ns, cfg.lanInterface, `ip6 and udp dst port 547 and not ether src ${cfg.routerMac}`);
  await observer.ready();
  const lan = new Injector(namespaceName(runName, 'fuzz'), { side: 'lan', seed: o.seed, iface: 'eth0', mac: FUZZ_MAC, routerMac: cfg.routerMac });
  const server = new Injector(o.plan.kea.ns, {
    side: 'server',
    seed: o.seed ^ 0x5e5e,
    from: o.plan.kea.address,
    to: cfg.serviceAddress,
    linkAddress: cfg.linkAddress,
    interfaceId: cfg.interfaceId,
    peer: FUZZ_LINK_LOCAL,
  });
  const start = { counters: await counters(), kea: await keaPkt6Sent(runName), rcvbuf: await udp6RcvbufErrors(o.router.ns) };
  const base = sideCounts(start.counters);
  const t0 = Date.now();

  // The valid client comes back each time another eighth of the packets has gone through (each
  // exchange spawns a client process: back to back they would take the CPU the relay needs).
  let fuzzing = true;
  const during = { ok: 0, failed: 0 };
  let wake: () => void = () => undefined;
  const validLoop = (async () => {
    while (fuzzing) {
      if (await validExchange(o.valid).catch(() => false)) during.ok++;
      else during.failed++;
      if (fuzzing) await new Promise<void>((r) => (wake = r));
    }
  })();

  const chunk = o.chunk ?? 4000;
  const share = o.serverShare ?? 0.2;
  const sent = { lan: 0, reaching: 0, server: 0 };
  let lastReport = 0;
  try {
    while (sent.reaching + sent.server < o.packets) {
      const left = o.packets - sent.reaching - sent.server;
      const s = Math.max(1, Math.round(Math.min(chunk, left) * share));
      const [l, sv] = await Promise.all([lan.send(Math.max(1, Math.min(chunk, left) - s)), server.send(s)]);
      sent.lan += l.sent;
      sent.reaching += l.reaching;
      sent.server += sv.sent;
      // Paced by the relay: the next chunk once it has taken this one from its capture and its socket.
      await waitUntil(
        async () => {
          if (!daemonAlive(relay())) throw new Error(`the relay on ${o.router.name} died (log ${relayPaths(runName, o.router.name).log})`);
          const now = sideCounts(await counters());
          return now.clientSeen - base.clientSeen >= sent.reaching && now.serverSeen - base.serverSeen >= sent.server;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 10,
          what: `the relay to take the ${sent.reaching} LAN frames past its filter and ${sent.server} datagrams sent so far`,
        },
      );
      const done = sent.reaching + sent.server;
      if (Math.floor((done * 8) / o.packets) > Math.floor(((done - l.reaching - sv.sent) * 8) / o.packets)) wake();
      if (done - lastReport >= 100_000) {
        lastReport = sent.reaching + sent.server;
        say(
          `${lastReport} packets through the relay (${Math.round(lastReport / ((Date.now() - t0) / 1000))}/s), valid exchanges during: ${during.ok} ok, ${during.failed} failed`,
        );
      }
    }
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    fuzzing = false;
    wake();
    await Promise.all([lan.close(), server.close()]);
    await validLoop;
  }
  const seconds = (Date.now() - t0) / 1000;

  // Settled: Kea's last answers in, the counters still. Then the accounting over the whole window.
  const settled = async () => {
    const c = await counters();
    const s = sideCounts(c);
    const kea = await keaPkt6Sent(runName);
    const rcvbuf = await udp6RcvbufErrors(o.router.ns);
    return { c, s, kea, rcvbuf, ok: s.serverSeen - base.serverSeen === sent.server + (kea - start.kea) - (rcvbuf - start.rcvbuf) };
  };
  const end = await waitUntil(
    async () => {
      const now = await settled();
      return now.ok ? now : undefined;
    },
    { timeoutMs: 10_000, what: "the relay's server side to account for every datagram" },
  ).catch(() => settled());
  const observed = await observer.stop();
  const delta = minus(end.c, start.counters);
  const d = sideCounts(delta);
  const keaSent = end.kea - start.kea;
  const dropped = end.rcvbuf - start.rcvbuf;
  // tcpdump's own ring drops do not matter: its kernel count of frames past the filter includes them.
  if (d.clientSeen !== observed.passed)
    problems.push(`client side: the relay counted ${d.clientSeen} frames, the filter passed ${observed.passed} (tcpdump's count)`);
  if (d.serverSeen !== sent.server + keaSent - dropped)
    problems.push(
      `server side: the relay counted ${d.serverSeen} datagrams; sent to it ${sent.server} + Kea's ${keaSent}, ${dropped} dropped for a full socket buffer`,
    );
  if (d.forwarded !== d.receivedClient)
    problems.push(`relayed: ${d.receivedClient} client messages received, ${d.forwarded} Relay-Forwards sent to the one server`);
  if (d.receivedReplies !== d.delivered + d.serverDropsAfter)
    problems.push(`Relay-Replies: ${d.receivedReplies} received, ${d.delivered} delivered + ${d.serverDropsAfter} dropped after`);

  const relayAlive = daemonAlive(relay()) && (await relayCommand(socket, 'list-commands').catch(() => undefined))?.result === 0;
  if (!relayAlive) problems.push(`the relay on ${o.router.name} is gone or does not answer its control socket`);
  const after = await validExchange(o.valid);
  if (!after) problems.push('the valid client was not served after the fuzz');
  if (during.ok === 0) problems.push(`the valid client was never served during the fuzz (${during.failed} exchanges failed)`);
  return {
    seconds,
    lan: { sent: sent.lan, reaching: sent.reaching },
    server: { sent: sent.server },
    observer: observed,
    keaSent,
    rcvbufErrors: dropped,
    counters: delta,
    sides: d,
    valid: { before, during, after },
    relayAlive,
    problems,
  };
}
