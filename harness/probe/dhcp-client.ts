/**
 * A DHCPv6 client built from the codec, run inside an instance's namespace by that namespace's probe
 * agent (agent.ts, command `dhcp`) for the scenarios: a UDP socket on the instance's link-local
 * port 546 talking to ff02::1:2 like a real client. It runs the steps given — acquire (Solicit →
 * Advertise → Request → Reply), renew, release, or raw datagrams (forged or malformed) — each step
 * waiting for its answer by transaction id with a deadline, never a fixed sleep. The agent already
 * runs in the namespace, so an exchange costs no process start (~0.2 s each when it was one).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { decodeDhcpv6, encodeDhcpv6, findOption, findOptions, isRelayMessage, type ClientServerMessage, type Dhcpv6Option } from '../packet/dhcpv6.ts';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import { duidLl } from '../packet/dhcpv6-client-frame.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS } from '../packet/constants.ts';

export type DhcpStep = { op: 'acquire' } | { op: 'renew' } | { op: 'release' } | { op: 'raw'; hex: string; srcPort?: number };

export interface DhcpClientScript {
  iface: string;
  linkLocal: string;
  /** DUID-LL link-layer address: client-chosen and untrusted (Kea keys on the relay's option 37). */
  duid: string;
  iaids: number[];
  steps: DhcpStep[];
  /** Lifetimes to ask for in the Solicit's IAPREFIX hint (the server may grant them). */
  lifetimeHint?: { preferred: number; valid: number };
  timeoutMs?: number;
}

export interface IaPdOutcome {
  iaid: number;
  prefixes: Array<{ prefix: string; validLifetime: number }>;
  /** The IA_PD's status code when the server put one in (6 = NoPrefixAvail). */
  status?: number;
}

export interface StepOutcome {
  op: DhcpStep['op'];
  /** The answer's message type ('advertise' / 'reply'), or null when none came before the deadline. */
  answer: string | null;
  iaPds: IaPdOutcome[];
  status?: number;
  ms: number;
}

export interface DhcpClientResult {
  steps: StepOutcome[];
}

function outcomeOf(msg: ClientServerMessage): { iaPds: IaPdOutcome[]; status?: number } {
  const iaPds = findOptions(msg.options, 'ia-pd').map((ia) => {
    const status = findOption(ia.options, 'status-code')?.code;
    return {
      iaid: ia.iaid,
      prefixes: findOptions(ia.options, 'iaprefix').map((p) => ({ prefix: `${p.prefix}/${p.prefixLength}`, validLifetime: p.validLifetime })),
      ...(status !== undefined ? { status } : {}),
    };
  });
  const status = findOption(msg.options, 'status-code')?.code;
  return { iaPds, ...(status !== undefined ? { status } : {}) };
}

class Client {
  private waiting = new Map<number, (m: ClientServerMessage) => void>();
  private serverId: Dhcpv6Option | undefined;
  private leased: Dhcpv6Option[] = [];

  constructor(
    private readonly sock: Socket,
    private readonly script: DhcpClientScript,
  ) {
    sock.on('message', (buf) => {
      try {
        const m = decodeDhcpv6(buf);
        if (!isRelayMessage(m) && m.type !== 'unknown') this.waiting.get(m.transactionId)?.(m);
      } catch {
        // not a message for this client
      }
    });
  }

  private send(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sock.send(buf, DHCPV6_SERVER_PORT, `${ALL_DHCP_RELAY_AGENTS_AND_SERVERS}%${this.script.iface}`, (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Sends a message and waits for the first answer of `type` with its transaction id, or the deadline. */
  private async exchange(type: ClientServerMessage['type'], options: Dhcpv6Option[], answer: string): Promise<ClientServerMessage | undefined> {
    const xid = randomInt(1 << 24);
    const got = new Promise<ClientServerMessage | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), this.script.timeoutMs ?? 3000);
      this.waiting.set(xid, (m) => {
        if (m.type !== answer) return;
        clearTimeout(timer);
        resolve(m);
      });
    });
    await this.send(encodeDhcpv6({ type, transactionId: xid, options }));
    const m = await got;
    this.waiting.delete(xid);
    return m;
  }

  private get clientId(): Dhcpv6Option {
    return { type: 'client-id', duid: duidLl(this.script.duid) };
  }

  async step(step: DhcpStep): Promise<StepOutcome> {
    const started = Date.now();
    const done = (answer: ClientServerMessage | undefined): StepOutcome => ({
      op: step.op,
      answer: answer?.type ?? null,
      ...(answer ? outcomeOf(answer) : { iaPds: [] }),
      ms: Date.now() - started,
    });
    const elapsed: Dhcpv6Option = { type: 'elapsed-time', centiseconds: 0 };
    switch (step.op) {
      case 'acquire': {
        const hint = this.script.lifetimeHint;
        const hintOptions: Dhcpv6Option[] = hint
          ? [{ type: 'iaprefix', preferredLifetime: hint.preferred, validLifetime: hint.valid, prefixLength: 0, prefix: '::', options: [] }]
          : [];
        const iaPds: Dhcpv6Option[] = this.script.iaids.map((iaid) => ({ type: 'ia-pd', iaid, t1: 0, t2: 0, options: hintOptions }));
        const advertise = await this.exchange('solicit', [this.clientId, elapsed, ...iaPds], 'advertise');
        if (!advertise) return done(undefined);
        this.serverId = findOption(advertise.options, 'server-id');
        // The Request carries what was offered, keeping the hinted lifetimes.
        const offered = findOptions(advertise.options, 'ia-pd').map((ia) => ({
          ...ia,
          options: findOptions(ia.options, 'iaprefix').map((p) => (hint ? { ...p, preferredLifetime: hint.preferred, validLifetime: hint.valid } : p)),
        }));
        const reply = await this.exchange('request', [this.clientId, ...(this.serverId ? [this.serverId] : []), elapsed, ...offered], 'reply');
        if (reply) this.leased = findOptions(reply.options, 'ia-pd').filter((ia) => findOptions(ia.options, 'iaprefix').length > 0);
        return done(reply);
      }
      case 'renew':
      case 'release': {
        const type = step.op;
        return done(await this.exchange(type, [this.clientId, ...(this.serverId ? [this.serverId] : []), elapsed, ...this.leased], 'reply'));
      }
      case 'raw': {
        await this.send(Buffer.from(step.hex, 'hex'));
        return done(undefined);
      }
    }
  }
}

/** Runs the script's steps on a socket of its own, closed when they are done (a bind that fails rejects). */
export async function runDhcpClient(script: DhcpClientScript): Promise<DhcpClientResult> {
  const rawPort = script.steps.find((s): s is Extract<DhcpStep, { op: 'raw' }> => s.op === 'raw')?.srcPort;
  const sock = createSocket({ type: 'udp6', reuseAddr: true });
  let failed: Error | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: `${script.linkLocal}%${script.iface}`, port: rawPort ?? DHCPV6_CLIENT_PORT }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    // An error after the bind is kept, not thrown at the process: the steps' sends report their own.
    sock.on('error', (err) => (failed ??= err));
    sock.setMulticastInterface(`::%${script.iface}`);
    const client = new Client(sock, script);
    const steps: StepOutcome[] = [];
    for (const s of script.steps) steps.push(await client.step(s));
    if (failed) throw failed;
    return { steps };
  } finally {
    sock.close();
  }
}
