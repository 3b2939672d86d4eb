/**
 * The DHCPv6 Prefix Delegation client of a synthetic instance (RFC 8415 §18): a state machine that
 * takes whole Ethernet frames in (`handleFrame`) and hands whole frames out (`send`), so one
 * process can run a thousand of them on TAP devices. Solicit → Advertise (highest preference; 255
 * at once) → Request → Reply, then Renew at T1, Rebind at T2, prefixes dropped at the end of their
 * valid lifetime, Release on demand. Every message goes to ff02::1:2 from the instance's link-local
 * (the pod's servers send no Server Unicast option). Retransmission follows §15 (pd-retransmit.ts).
 * Frames that are not for this client are counted, never thrown on, never logged.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { decodeFrame } from '../packet/frame.ts';
import { DHCPV6_CLIENT_PORT } from '../packet/constants.ts';
import { ETHERTYPE_IPV6, ETHERTYPE_VLAN } from '../packet/ethernet.ts';
import { PROTO } from '../packet/ipv6.ts';
import {
  decodeDuid,
  DHCPV6_OPTION_NUMBERS,
  DHCPV6_STATUS_CODES,
  encodeDuid,
  findOption,
  findOptions,
  isRelayMessage,
  type ClientServerMessage,
  type Dhcpv6Message,
  type Dhcpv6Option,
  type OptionOf,
} from '../packet/dhcpv6.ts';
import { clientFrame } from '../packet/dhcpv6-client-frame.ts';
import { CLIENT_PARAMS, MAX_TIMER_MS, Retransmission, type RetransmissionParams } from './pd-retransmit.ts';
import { systemClock, type Clock } from './clock.ts';

export interface PdClientOptions {
  /** The instance MAC: Ethernet source of every frame. */
  mac: string;
  /** Source address of every message (RFC 8415 §13.1). */
  linkLocal: string;
  /** Encoded DUID (the caller's choice, usually DUID-LL of the MAC); untrusted by Kea, which keys on the MAC. */
  duid: Buffer;
  /** One IA_PD per iaid. */
  iaids: number[];
  /** A whole Ethernet frame to 33:33:00:01:00:02 / ff02::1:2, UDP 546 → 547. */
  send: (frame: Buffer) => void;
  clock?: Clock;
  /** [0, 1) source of the retransmission jitter (RFC 8415 §15 RAND). */
  random?: () => number;
  /**
   * The most the first Solicit waits, at random (RFC 8415 §18.2.1 SHOULD, SOL_MAX_DELAY = 1 s), so
   * many clients booting together do not reach the server all at once; 0 (default): at once.
   */
  firstSolicitDelayMs?: number;
}

/** RFC 8415 §7.6. */
export const SOL_MAX_DELAY_MS = 1000;

export type PdState = 'init' | 'soliciting' | 'requesting' | 'bound' | 'renewing' | 'rebinding' | 'releasing' | 'released' | 'failed';

export interface PdPrefix {
  iaid: number;
  /** addr/len */
  prefix: string;
  preferredLifetime: number;
  validLifetime: number;
  /** clock.now() when the Reply granting these lifetimes arrived. */
  obtainedAt: number;
}

export interface PdStatus {
  iaid?: number;
  code: number;
  name: string;
  message?: string;
}

export interface PdSnapshot {
  state: PdState;
  /** hex */
  duid: string;
  prefixes: PdPrefix[];
  status?: PdStatus;
  /** sent.<type>, received.<type>, ignored (+ ignored.<reason>), malformed, retransmissions, expired, send-errors. */
  counters: Record<string, number>;
}

type TimerSlot = 'renew' | 'expiry' | 'backoff';
type ExchangeType = 'solicit' | 'request' | 'renew' | 'rebind' | 'release';

interface Exchange {
  type: ExchangeType;
  xid: number;
  retransmission: Retransmission;
}

/** An Advertise worth requesting: its server, preference and offered IA_PDs. */
interface Offer {
  serverId: OptionOf<'server-id'>;
  preference: number;
  iaPds: OptionOf<'ia-pd'>[];
}

/** Lifetimes and T1/T2 of 0xffffffff mean infinity (RFC 8415 §7.7). */
const INFINITY = 0xffffffff;
/** SOL_MAX_RT option (RFC 8415 §21.24): the codec keeps it raw. */
const OPTION_SOL_MAX_RT = 82;
const SOL_MAX_RT_RANGE = [60, 86400] as const;
/** What the client asks for in its ORO: DNS servers and domains (as the seed's dhcp6c.conf) and SOL_MAX_RT (§18.2.1 MUST). */
const ORO: Dhcpv6Option = { type: 'oro', requested: [DHCPV6_OPTION_NUMBERS['dns-servers'], DHCPV6_OPTION_NUMBERS['domain-list'], OPTION_SOL_MAX_RT] };
const MAX_PREFERENCE = 255;
const STATUS_NAMES = new Map<number, string>(Object.entries(DHCPV6_STATUS_CODES).map(([name, code]) => [code, name]));
/** Offsets in a frame without VLAN tag or extension headers: IPv6 next header, UDP destination port. */
const NEXT_HEADER = 14 + 6;
const UDP_DST_PORT = 14 + 40 + 2;

const statusOf = (code: number, message: string, iaid?: number): PdStatus => ({
  ...(iaid !== undefined ? { iaid } : {}),
  code,
  name: STATUS_NAMES.get(code) ?? `status ${code}`,
  ...(message ? { message } : {}),
});

/** Seconds → ms after `from`; infinity never comes. */
const until = (from: number, seconds: number) => (seconds === INFINITY ? Infinity : from + seconds * 1000);

/**
 * The IAPREFIXes of an IA_PD a client takes into account (§21.22: preferred ≤ valid; a valid lifetime
 * of 0 withdraws the prefix), or none when the IA's T1 > T2 > 0 (§21.21).
 */
function usablePrefixes(ia: OptionOf<'ia-pd'>): OptionOf<'iaprefix'>[] {
  if (ia.t1 > ia.t2 && ia.t2 > 0) return [];
  return findOptions(ia.options, 'iaprefix').filter((p) => p.preferredLifetime <= p.validLifetime);
}

export class PdClient extends EventEmitter {
  private state: PdState = 'init';
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly clientId: OptionOf<'client-id'>;
  private readonly duidHex: string;
  private prefixes: PdPrefix[] = [];
  private serverId: OptionOf<'server-id'> | undefined;
  private exchange: Exchange | undefined;
  /** The best Advertise of the first Solicit RT. */
  private offer: Offer | undefined;
  private status: PdStatus | undefined;
  private readonly counters: Record<string, number> = {};
  private solMaxRtMs: number = CLIENT_PARAMS.solicit.mrt;
  /** When to Renew and Rebind the current binding (ms, clock time). */
  private t1At = Infinity;
  private t2At = Infinity;
  /** T1 of the binding, the earliest valid-lifetime end, the wait before discovery resumes. */
  private readonly timers: Record<TimerSlot, unknown> = { renew: undefined, expiry: undefined, backoff: undefined };
  /** Solicit rounds whose Request got nothing: the next Solicit waits longer each time, never looping fast. */
  private emptyRounds = 0;
  private releasing: { promise: Promise<void>; resolve: () => void } | undefined;
  private stopped = false;

  constructor(private readonly opts: PdClientOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.clientId = { type: 'client-id', duid: decodeDuid(opts.duid, 0, 'client-id.duid') };
    this.duidHex = opts.duid.toString('hex');
  }

  /** Starts discovery with a Solicit. */
  start(): void {
    if (this.state !== 'init' && this.state !== 'released' && this.state !== 'failed') throw new Error(`PdClient.start: already running (state ${this.state})`);
    this.stopped = false;
    const delay = (this.opts.firstSolicitDelayMs ?? 0) * this.random();
    if (delay > 0) this.at('backoff', this.clock.now() + delay, () => this.solicit());
    else this.solicit();
  }

  renew(): void {
    this.requireBinding('renew');
    this.startRenew();
  }

  rebind(): void {
    this.requireBinding('rebind');
    this.startRebind();
  }

  /** Stops using the prefixes at once, then Releases them; resolves on the Reply or after REL_MAX_RC. */
  release(): Promise<void> {
    if (this.releasing) return this.releasing.promise;
    const released = this.prefixes;
    this.halt();
    if (!released.length || !this.serverId || this.stopped) {
      this.setPrefixes([]);
      this.state = 'released';
      return Promise.resolve();
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.releasing = { promise, resolve };
    this.setPrefixes([]);
    this.state = 'releasing';
    const iaPds = this.opts.iaids.flatMap((iaid) => {
      const mine = released.filter((p) => p.iaid === iaid);
      return mine.length ? [this.iaPd(iaid, mine)] : [];
    });
    const serverId = this.serverId;
    this.begin('release', CLIENT_PARAMS.release, (elapsed) => [this.clientId, serverId, elapsed, ...iaPds], { exhausted: () => this.released() });
    return promise;
  }

  /** The VM is gone: every timer off, nothing more sent, a pending release() resolved. */
  stop(): void {
    this.stopped = true;
    this.halt();
    this.releasing?.resolve();
    this.releasing = undefined;
  }

  snapshot(): PdSnapshot {
    return {
      state: this.state,
      duid: this.duidHex,
      prefixes: this.prefixes.map((p) => ({ ...p })),
      ...(this.status ? { status: { ...this.status } } : {}),
      counters: { ...this.counters },
    };
  }

  /**
   * Takes any frame the instance received. True when it was a DHCPv6 message for this client (UDP to
   * port 546 with the transaction id of the exchange in progress and this client's Client ID); every
   * other DHCPv6 client-port frame is counted as ignored or malformed. Never throws.
   */
  handleFrame(frame: Buffer): boolean {
    if (this.stopped || !this.mayBeDhcpClientFrame(frame)) return false;
    let msg: Dhcpv6Message | undefined;
    try {
      const decoded = decodeFrame(frame);
      if (decoded.udp?.dstPort !== DHCPV6_CLIENT_PORT) return false;
      if (!decoded.checksumStatus?.valid) return this.ignore('malformed');
      msg = decoded.dhcpv6;
    } catch {
      return this.ignore('malformed');
    }
    if (!msg || msg.type === 'unknown' || isRelayMessage(msg)) return this.ignore('ignored.type');
    this.count(`received.${msg.type}`);
    // This client never sent Reconfigure Accept, so a Reconfigure (authenticated or not) is refused (§18.2.11).
    if (msg.type === 'reconfigure') return this.ignore('ignored.reconfigure');
    const ex = this.exchange;
    if (!ex || msg.transactionId !== ex.xid) return this.ignore('ignored.xid');
    const clientId = findOption(msg.options, 'client-id');
    if (!clientId || !encodeDuid(clientId.duid).equals(this.opts.duid)) return this.ignore('ignored.client-id');
    const serverId = findOption(msg.options, 'server-id');
    if (!serverId) {
      this.ignore('ignored.server-id');
      return true;
    }
    this.takeSolMaxRt(msg);
    if (ex.type === 'solicit' && msg.type === 'advertise') this.onAdvertise(msg, serverId);
    else if (ex.type !== 'solicit' && msg.type === 'reply') this.onReply(ex, msg, serverId);
    else this.ignore('ignored.unexpected');
    return true;
  }

  // ── discovery ────────────────────────────────────────────────────────────

  private solicit(): void {
    // Prefixes still held (a lost binding being asked for again) keep their expiry.
    this.halt(false);
    this.disarm('renew');
    this.state = 'soliciting';
    this.offer = undefined;
    const iaPds = this.opts.iaids.map((iaid) => this.iaPd(iaid, []));
    this.begin('solicit', { ...CLIENT_PARAMS.solicit, mrt: this.solMaxRtMs }, (elapsed) => [this.clientId, elapsed, ORO, ...iaPds], {
      firstSolicit: true,
      exhausted: () => undefined, // MRC and MRD are 0: a Solicit never gives up
      // After the first RT, the best Advertise collected is taken (§18.2.1).
      beforeRetransmit: () => {
        if (!this.offer) return true;
        this.request(this.offer);
        return false;
      },
    });
  }

  private onAdvertise(msg: ClientServerMessage, serverId: OptionOf<'server-id'>): void {
    const iaPds = findOptions(msg.options, 'ia-pd').filter((ia) => this.opts.iaids.includes(ia.iaid));
    this.noteStatuses(msg, iaPds);
    // An Advertise with no prefixes is ignored (§18.2.9): Kea's answer to an unknown MAC.
    if (!iaPds.some((ia) => usablePrefixes(ia).some((p) => p.validLifetime > 0))) {
      this.ignore('ignored.no-prefixes');
      return;
    }
    const preference = findOption(msg.options, 'preference')?.value ?? 0;
    const offer: Offer = { serverId, preference, iaPds };
    const firstRtOver = (this.exchange?.retransmission.count ?? 0) > 1;
    if (preference === MAX_PREFERENCE || firstRtOver) return this.request(offer);
    if (!this.offer || preference > this.offer.preference) this.offer = offer;
  }

  private request(offer: Offer): void {
    this.halt(false);
    this.disarm('renew');
    this.state = 'requesting';
    this.serverId = offer.serverId;
    // Every IA asked for again, the offered prefixes as hints (lifetimes 0: the server sets them, §21.22).
    const iaPds = this.opts.iaids.map((iaid) => {
      const offered = offer.iaPds.find((ia) => ia.iaid === iaid);
      return this.iaPdOf(iaid, offered ? usablePrefixes(offered).map((p) => `${p.prefix}/${p.prefixLength}`) : []);
    });
    const serverId = offer.serverId;
    // A Request that runs out of retransmissions sends the client back to discovery (§18.2.2).
    this.begin('request', CLIENT_PARAMS.request, (elapsed) => [this.clientId, serverId, elapsed, ORO, ...iaPds], { exhausted: () => this.solicit() });
  }

  // ── the binding ──────────────────────────────────────────────────────────

  private startRenew(): void {
    const now = this.clock.now();
    if (now >= this.t2At) return this.startRebind();
    this.halt(false);
    this.state = 'renewing';
    const serverId = this.serverId!;
    const iaPds = this.bindingIaPds();
    // Multicast: unicast needs the server's Server Unicast option, which the pod's Kea does not send.
    this.begin(
      'renew',
      { ...CLIENT_PARAMS.renew, mrd: this.t2At === Infinity ? 0 : this.t2At - now },
      (elapsed) => [this.clientId, serverId, elapsed, ORO, ...iaPds],
      {
        exhausted: () => this.startRebind(),
      },
    );
  }

  private startRebind(): void {
    const now = this.clock.now();
    this.halt(false);
    this.state = 'rebinding';
    const iaPds = this.bindingIaPds();
    const lastValid = Math.max(...this.prefixes.map((p) => until(p.obtainedAt, p.validLifetime)));
    // Until the last valid lifetime ends; the expiry timer drops the prefixes and restarts discovery.
    this.begin(
      'rebind',
      { ...CLIENT_PARAMS.rebind, mrd: lastValid === Infinity ? 0 : Math.max(1, lastValid - now) },
      (elapsed) => [this.clientId, elapsed, ORO, ...iaPds],
      {
        exhausted: () => undefined,
      },
    );
  }

  private onReply(ex: Exchange, msg: ClientServerMessage, serverId: OptionOf<'server-id'>): void {
    if (ex.type === 'release') return this.released();
    const top = findOption(msg.options, 'status-code');
    if (top && top.code !== DHCPV6_STATUS_CODES.Success) {
      this.status = statusOf(top.code, top.message);
      // NotOnLink: the offered prefixes do not fit this link, discover again (§18.2.10.1); other
      // failures (UnspecFail, UseMulticast: every message is multicast already) wait for the retransmission.
      if (top.code === DHCPV6_STATUS_CODES.NotOnLink && ex.type === 'request') this.solicit();
      else this.ignore('ignored.status');
      return;
    }
    const iaPds = findOptions(msg.options, 'ia-pd').filter((ia) => this.opts.iaids.includes(ia.iaid));
    // The status describes the latest Reply: a refusal from earlier (the MAC unknown then) is over.
    this.status = undefined;
    this.noteStatuses(msg, iaPds);
    const now = this.clock.now();
    const granted = iaPds.flatMap((ia) =>
      usablePrefixes(ia).map((p) => ({
        iaid: ia.iaid,
        prefix: `${p.prefix}/${p.prefixLength}`,
        preferredLifetime: p.preferredLifetime,
        validLifetime: p.validLifetime,
        obtainedAt: now,
      })),
    );
    let next: PdPrefix[];
    if (ex.type === 'request') {
      next = granted.filter((p) => p.validLifetime > 0);
    } else {
      // Renew/Rebind: lifetimes updated, valid lifetime 0 withdraws, prefixes not mentioned keep theirs (§18.2.10.1).
      next = this.prefixes.filter((p) => !granted.some((g) => g.iaid === p.iaid && g.prefix === p.prefix));
      next.push(...granted.filter((g) => g.validLifetime > 0));
    }
    this.exchange?.retransmission.cancel();
    this.exchange = undefined;
    this.serverId = serverId;
    const hadPrefixes = this.prefixes.length > 0;
    this.setPrefixes(next);
    if (!next.length) return this.retryLater();
    this.emptyRounds = 0;
    this.schedule(
      iaPds.filter((ia) => usablePrefixes(ia).some((p) => p.validLifetime > 0)),
      now,
    );
    this.state = 'bound';
    if (!hadPrefixes) this.emit('bound', this.snapshot().prefixes);
    // NoBinding in a Renew/Rebind Reply: the server lost that IA, ask for it again (§18.2.10.1).
    if (ex.type !== 'request' && iaPds.some((ia) => findOption(ia.options, 'status-code')?.code === DHCPV6_STATUS_CODES.NoBinding)) {
      this.request({ serverId, preference: 0, iaPds: this.bindingIaPds() });
    }
  }

  /** T1 and T2 of the binding: the earliest over its IAs; 0 lets the client pick 0.5 and 0.8 of the shortest preferred lifetime (§21.21). */
  private schedule(iaPds: OptionOf<'ia-pd'>[], now: number): void {
    if (iaPds.length) {
      let t1 = Infinity;
      let t2 = Infinity;
      for (const ia of iaPds) {
        const preferred = Math.min(...usablePrefixes(ia).map((p) => p.preferredLifetime));
        const own = (t: number, share: number) => (t ? t : preferred === INFINITY ? INFINITY : Math.floor(preferred * share));
        t1 = Math.min(t1, until(now, own(ia.t1, 0.5)));
        t2 = Math.min(t2, until(now, own(ia.t2, 0.8)));
      }
      this.t1At = t1;
      this.t2At = Math.max(t1, t2);
    }
    this.at('renew', this.t1At, () => this.startRenew());
    this.armExpiry();
  }

  /** One timer for the earliest valid-lifetime end; expired prefixes are dropped when it fires. */
  private armExpiry(): void {
    const next = Math.min(...this.prefixes.map((p) => until(p.obtainedAt, p.validLifetime)));
    this.at('expiry', next, () => {
      const now = this.clock.now();
      const left = this.prefixes.filter((p) => until(p.obtainedAt, p.validLifetime) > now);
      this.count('expired', this.prefixes.length - left.length);
      this.setPrefixes(left);
      if (left.length) this.armExpiry();
      // The binding is gone: discover again (unless discovery is what is running).
      else if (this.state === 'bound' || this.state === 'renewing' || this.state === 'rebinding') this.solicit();
    });
  }

  /** A Reply without prefixes: discovery again after a backoff that doubles each time, up to SOL_MAX_RT. */
  private retryLater(): void {
    this.halt();
    this.state = 'failed';
    const wait = Math.min(this.solMaxRtMs, CLIENT_PARAMS.solicit.irt * 2 ** this.emptyRounds++);
    this.at('backoff', this.clock.now() + wait * (1 + this.random() * 0.1), () => this.solicit());
  }

  private released(): void {
    this.halt();
    this.state = 'released';
    this.serverId = undefined;
    this.releasing?.resolve();
    this.releasing = undefined;
  }

  // ── messages ─────────────────────────────────────────────────────────────

  /** Starts an exchange: a fresh transaction id, `options` built per transmission with its Elapsed Time. */
  private begin(
    type: ExchangeType,
    params: RetransmissionParams,
    options: (elapsed: Dhcpv6Option) => Dhcpv6Option[],
    hooks: { exhausted: () => void; beforeRetransmit?: () => boolean; firstSolicit?: boolean },
  ): void {
    const xid = randomInt(1 << 24);
    const retransmission = new Retransmission(this.clock, this.random, params, {
      ...hooks,
      transmit: (r) => {
        if (r.count > 1) this.count('retransmissions');
        // Hundredths of a second since the exchange's first message, saturating at 0xffff (§21.9).
        const elapsed: Dhcpv6Option = { type: 'elapsed-time', centiseconds: Math.min(0xffff, Math.round(r.elapsedMs() / 10)) };
        this.transmit({ type, transactionId: xid, options: options(elapsed) });
      },
    });
    this.exchange = { type, xid, retransmission };
  }

  private transmit(message: ClientServerMessage): void {
    this.count(`sent.${message.type}`);
    try {
      this.opts.send(clientFrame(this.opts.mac, this.opts.linkLocal, message));
    } catch {
      // A full TAP queue loses this one message; the retransmission timer covers it.
      this.count('send-errors');
    }
  }

  private iaPd(iaid: number, prefixes: readonly PdPrefix[]): OptionOf<'ia-pd'> {
    return this.iaPdOf(
      iaid,
      prefixes.map((p) => p.prefix),
    );
  }

  /** An IA_PD as a client sends it: T1/T2 and lifetimes 0, the server sets them (§21.21, §21.22). */
  private iaPdOf(iaid: number, prefixes: readonly string[]): OptionOf<'ia-pd'> {
    return {
      type: 'ia-pd',
      iaid,
      t1: 0,
      t2: 0,
      options: prefixes.map((text) => {
        const [prefix, length] = text.split('/');
        return { type: 'iaprefix', preferredLifetime: 0, validLifetime: 0, prefixLength: Number(length), prefix: prefix!, options: [] };
      }),
    };
  }

  /** Every IA of the client, with the prefixes it holds (an IA it could not get is asked for again, §18.2.4). */
  private bindingIaPds(): OptionOf<'ia-pd'>[] {
    return this.opts.iaids.map((iaid) =>
      this.iaPd(
        iaid,
        this.prefixes.filter((p) => p.iaid === iaid),
      ),
    );
  }

  /** Remembers the last refusal: an IA's status (NoPrefixAvail for an unknown MAC) or the message's. */
  private noteStatuses(msg: ClientServerMessage, iaPds: OptionOf<'ia-pd'>[]): void {
    for (const ia of iaPds) {
      const s = findOption(ia.options, 'status-code');
      if (s && s.code !== DHCPV6_STATUS_CODES.Success) {
        this.status = statusOf(s.code, s.message, ia.iaid);
        this.count(`status.${this.status.name}`);
      }
    }
    const top = findOption(msg.options, 'status-code');
    if (top && top.code !== DHCPV6_STATUS_CODES.Success) this.status = statusOf(top.code, top.message);
  }

  /** SOL_MAX_RT from a server replaces the client's (§21.24); out-of-range values are ignored. */
  private takeSolMaxRt(msg: ClientServerMessage): void {
    const o = msg.options.find((x) => x.type === 'unknown' && x.optionCode === OPTION_SOL_MAX_RT);
    if (o?.type !== 'unknown' || o.data.length !== 4) return;
    const seconds = o.data.readUInt32BE(0);
    if (seconds < SOL_MAX_RT_RANGE[0] || seconds > SOL_MAX_RT_RANGE[1]) return;
    this.solMaxRtMs = seconds * 1000;
    if (this.exchange?.type === 'solicit') this.exchange.retransmission.params.mrt = this.solMaxRtMs;
  }

  // ── bookkeeping ──────────────────────────────────────────────────────────

  private setPrefixes(next: PdPrefix[]): void {
    const key = (list: PdPrefix[]) =>
      list
        .map((p) => `${p.iaid} ${p.prefix}`)
        .sort()
        .join(',');
    const changed = key(next) !== key(this.prefixes);
    this.prefixes = next;
    if (!next.length) this.disarm('expiry');
    if (changed) this.emit('changed', this.snapshot().prefixes);
  }

  private requireBinding(what: string): void {
    if (this.stopped || !this.prefixes.length || !this.serverId || this.state === 'releasing')
      throw new Error(`PdClient.${what}: no binding to ${what} (state ${this.state})`);
  }

  /** Ends the exchange in progress and the discovery backoff; `lease` false keeps the binding's T1 and expiry timers. */
  private halt(lease = true): void {
    this.exchange?.retransmission.cancel();
    this.exchange = undefined;
    this.disarm('backoff');
    if (lease) this.disarm('renew', 'expiry');
  }

  /** Arms timer `slot` for clock time `when` (none for infinity), in steps Node's timers can hold. */
  private at(slot: TimerSlot, when: number, fn: () => void): void {
    this.clock.clearTimeout(this.timers[slot]);
    this.timers[slot] = undefined;
    if (when === Infinity) return;
    const wait = Math.max(0, when - this.clock.now());
    this.timers[slot] = this.clock.setTimeout(wait > MAX_TIMER_MS ? () => this.at(slot, when, fn) : fn, Math.min(wait, MAX_TIMER_MS));
  }

  private disarm(...slots: TimerSlot[]): void {
    for (const slot of slots) {
      this.clock.clearTimeout(this.timers[slot]);
      this.timers[slot] = undefined;
    }
  }

  /** Cheap rejection before decoding: not IPv6, or plainly UDP/ICMPv6 to a port other than 546. */
  private mayBeDhcpClientFrame(frame: Buffer): boolean {
    if (frame.length < 14) return false;
    const etherType = frame.readUInt16BE(12);
    if (etherType !== ETHERTYPE_IPV6) return etherType === ETHERTYPE_VLAN; // a VLAN tag: decode to see
    if (frame.length <= NEXT_HEADER) return false;
    const next = frame[NEXT_HEADER];
    if (next === PROTO.icmpv6) return false;
    if (next === PROTO.udp) return frame.length >= UDP_DST_PORT + 2 && frame.readUInt16BE(UDP_DST_PORT) === DHCPV6_CLIENT_PORT;
    return true; // extension headers: decode to see
  }

  private count(key: string, by = 1): void {
    this.counters[key] = (this.counters[key] ?? 0) + by;
  }

  /** Counts a frame this client does not act on; false for handleFrame. */
  private ignore(reason: string): false {
    if (reason !== 'malformed') this.count('ignored');
    this.count(reason);
    return false;
  }
}
