/**
 * One synthetic instance: an emulated IPv6 host on a FrameLink, doing what a Linux guest with
 * addr_gen_mode=0 does on the pod LAN — EUI-64 link-local with DAD (RFC 4862 §5.4, optimistic per
 * RFC 4429 when the pod says so), Router Solicitations (RFC 4861 §6.3.7), default routers and
 * SLAAC from RAs (RFC 4862 §5.5.3), answers to NS for its addresses and to Echo Requests, and a
 * DHCPv6 PD client whose delegated prefixes each get one address (<prefix>::1) that answers pings.
 *
 * Frames not addressed to this host's MAC or groups are dropped before decoding: every TAP on the
 * bridge receives every flooded multicast, and at 250 instances per process most of them are for
 * someone else. The same list of MACs goes to the link's filter when it has one (a TAP's, in the
 * kernel), kept up to date as addresses come and go, so those frames are not even read.
 * Malformed and invalid frames are counted, never thrown.
 */
import { buildFrame, decodeFrame, type DecodedFrame } from '../packet/frame.ts';
import { DHCPV6_CLIENT_PORT } from '../packet/constants.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import type { EchoRequest, Icmpv6Message, NeighborAdvertisement, NeighborSolicitation, RouterAdvertisement } from '../packet/icmpv6.ts';
import type { NdOption, PrefixInformationOption } from '../packet/nd-options.ts';
import { encodeDuid } from '../packet/duid.ts';
import { linkLocalAddress, slaacAddress } from '../addr/slaac.ts';
import { ipv6ToBigInt, Prefix } from '../addr/prefix.ts';
import { ipv6FromBytes, ipv6ToBytes, macToBytes } from '../addr/bytes.ts';
import { formatMac } from '../addr/mac.ts';
import { AddressTable, addressState, isUsable, lifetimeEnd, updatedValidUntil, type AddressState, type HostAddress } from './addresses.ts';
import { DefaultRouters } from './routers.ts';
import { NeighborCache } from './neighbors.ts';
import { isLinkLocal, isMulticast, multicastMac, solicitedNodeAddress } from '../addr/multicast.ts';
import { ALL_NODES, ALL_NODES_MAC, ALL_ROUTERS } from '../packet/constants.ts';
import { systemClock, type Clock } from './clock.ts';
import type { FrameLink } from './link.ts';
import type { DhcpClient, DhcpClientFactory, DhcpSnapshot } from './dhcp-client.ts';

export type DadMode = 'optimistic' | 'full';

export interface SyntheticHostOptions {
  name: string;
  mac: string;
  /** The hypervisor port it sits behind (vnetN), for snapshots. */
  port?: string;
  dad: DadMode;
  /**
   * The MLD version its reports speak (default 2, as Linux): 1 for a guest with force_mld_version=1,
   * whose reports a snooping Linux bridge sends to its router ports only (MLDv2 reports it floods).
   */
  mldVersion?: 1 | 2;
  /** The DHCPv6 PD client: whether it runs from the start, its IAIDs, and a DUID other than DUID-LL of the MAC. */
  dhcp?: { enabled: boolean; iaids: number[]; duid?: Buffer; firstSolicitDelayMs?: number };
  dhcpFactory?: DhcpClientFactory;
  clock?: Clock;
  random?: () => number;
}

export interface HostCounters {
  framesIn: number;
  framesOut: number;
  /** Frames to another host's MAC or group (flooded by the bridge), dropped before decoding. */
  notForUs: number;
  nsAnswered: number;
  echoAnswered: number;
  rsSent: number;
  raAccepted: number;
  /** Frames for us that the host does not handle (other protocols, ports, message types). */
  unknownDropped: number;
  /** Undecodable frames, bad checksums, ND messages failing RFC 4861 validation. */
  malformed: number;
  /** Frames given up on because neighbour resolution or routing failed. */
  undeliverable: number;
  /** Frames the port refused (no room, closed, or the kernel reported an error). */
  sendErrors: number;
}

export interface HostSnapshot {
  name: string;
  mac: string;
  port: string | null;
  linkLocal: { address: string; state: AddressState };
  addresses: Array<{ address: string; prefixLength: number; origin: 'slaac' | 'delegated'; state: AddressState; validUntil: number | null }>;
  defaultRouters: Array<{ address: string; mac: string | null; expiresAt: number }>;
  dhcp: DhcpSnapshot | null;
  counters: HostCounters;
}

// RFC 4861 §10 and §6.3.7 constants, RFC 4862 §5.1 DupAddrDetectTransmits = 1.
const RETRANS_TIMER_MS = 1000;
const RTR_SOLICITATION_INTERVAL_MS = 4000;
const MAX_RTR_SOLICITATIONS = 3;
const ND_HOP_LIMIT = 255;
const DEFAULT_HOP_LIMIT = 64;
const SLAAC_PREFIX_LENGTH = 64;
const DAD_NONCE_BYTES = 6;
const ETHERNET_BROADCAST = formatMac(Buffer.alloc(6, 0xff));
const DUID_HARDWARE_ETHERNET = 1;
// MLDv2 (RFC 3810): reports to all MLDv2 routers, hop limit 1, with a Router Alert (RFC 2711, value 0 = MLD).
const ALL_MLDV2_ROUTERS = 'ff02::16';
const MLD_QUERY = 130;
const MLD_V1_REPORT = 131;
const CHANGE_TO_EXCLUDE_MODE = 4;
const MODE_IS_EXCLUDE = 2;
const ROUTER_ALERT = [
  { optionType: 5, data: Buffer.of(0, 0) },
  { optionType: 1, data: Buffer.alloc(0) }, // PadN to the 8-byte boundary
];
/** Below this many bytes after the checksum a query names no group (MLDv1 and v2 both carry one). */
const MLD_QUERY_BODY = 20;

export class SyntheticHost {
  readonly name: string;
  readonly mac: string;
  readonly linkLocal: string;
  readonly counters: HostCounters = {
    framesIn: 0,
    framesOut: 0,
    notForUs: 0,
    nsAnswered: 0,
    echoAnswered: 0,
    rsSent: 0,
    raAccepted: 0,
    unknownDropped: 0,
    malformed: 0,
    undeliverable: 0,
    sendErrors: 0,
  };
  private readonly clock: Clock;
  private readonly random: () => number;
  /** Destination MACs of frames for this host (see acceptedMacs), as bytes for forUs. */
  private accepted: Buffer[] = [];
  /** acceptedMacs() joined, as last applied: unchanged lists are not sent to the link again. */
  private acceptedKey = '';
  private readonly addresses = new AddressTable();
  private readonly routers = new DefaultRouters();
  private readonly neighbors: NeighborCache;
  /** On-link prefixes from PIOs with the L flag, until their valid lifetime ends. */
  private readonly onLink = new Map<string, { prefix: Prefix; until: number | null }>();
  private readonly timers = new Set<unknown>();
  private readonly dadNonces = new Map<string, Buffer>();
  private dhcp: DhcpClient | undefined;
  private dhcpWanted: boolean;
  private rsCount = 0;
  private rsTimer: unknown;
  private raSeen = false;
  private mldPending = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly link: FrameLink,
    private readonly opts: SyntheticHostOptions,
  ) {
    this.name = opts.name;
    this.mac = opts.mac.toLowerCase();
    this.linkLocal = linkLocalAddress(this.mac);
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.dhcpWanted = opts.dhcp?.enabled ?? false;
    this.neighbors = new NeighborCache(
      this.clock,
      (target) => this.solicit(target),
      (frame) => this.transmit(frame),
    );
    this.syncAccepted();
    link.onFrame((frame) => this.handleFrame(frame));
  }

  /** Brings the interface up: the link-local address and its DAD; RS and DHCP follow once it is usable. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const ll = this.addresses.add({
      address: this.linkLocal,
      prefixLength: 64,
      origin: 'link-local',
      dad: 'tentative',
      preferredUntil: null,
      validUntil: null,
    });
    // RFC 4862 §5.4.2: join the solicited-node group before probing (every EUI-64 address shares it).
    this.sendMldReport('::', CHANGE_TO_EXCLUDE_MODE);
    this.startDad(ll);
  }

  /** Stops every timer and the DHCP client; sends nothing (a VM that disappears sends no Release). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    this.neighbors.stop();
    this.dhcp?.stop();
  }

  /** Starts the DHCPv6 client (now, or once the link-local is usable) if it is not running. */
  startDhcp(): void {
    if (!this.opts.dhcpFactory) throw new Error(`${this.name}: this host has no DHCPv6 client`);
    this.dhcpWanted = true;
    this.maybeStartDhcp();
  }

  renew(): void {
    if (!this.dhcp) throw new Error(`${this.name}: the DHCPv6 client is not running`);
    this.dhcp.renew();
  }

  async release(): Promise<void> {
    if (!this.dhcp) throw new Error(`${this.name}: the DHCPv6 client is not running`);
    await this.dhcp.release();
    this.syncDelegated();
  }

  /** Sends a raw frame from this instance's port as it is (forged frames included). */
  /** True when the port took the frame. */
  inject(frame: Buffer): boolean {
    return this.transmit(frame);
  }

  snapshot(): HostSnapshot {
    const now = this.clock.now();
    this.expireAddresses(now);
    const ll = this.addresses.get(this.linkLocal);
    return {
      name: this.name,
      mac: this.mac,
      port: this.opts.port ?? null,
      linkLocal: { address: this.linkLocal, state: ll ? addressState(ll, now) : 'tentative' },
      addresses: this.addresses
        .all()
        .filter((a) => a.origin !== 'link-local')
        .map((a) => ({
          address: a.address,
          prefixLength: a.prefixLength,
          origin: a.origin as 'slaac' | 'delegated',
          state: addressState(a, now),
          validUntil: a.validUntil,
        })),
      defaultRouters: this.routers.list(now).map((r) => ({ ...r })),
      dhcp: this.dhcp?.snapshot() ?? null,
      counters: { ...this.counters, undeliverable: this.counters.undeliverable + this.neighbors.unresolved },
    };
  }

  // ---- receiving ----

  handleFrame(buf: Buffer): void {
    this.counters.framesIn++;
    if (this.stopped) return;
    if (!this.forUs(buf)) {
      this.counters.notForUs++;
      return;
    }
    let f: DecodedFrame;
    try {
      f = decodeShared(buf);
    } catch {
      this.counters.malformed++;
      return;
    }
    if (!f.ipv6 || (f.extensions?.length && !isMldQuery(f))) {
      // Extension headers: only MLD queries (Router Alert) need them; RFC 6980 forbids them on ND.
      this.counters.unknownDropped++;
      return;
    }
    if (f.checksumStatus && !f.checksumStatus.valid) {
      this.counters.malformed++;
      return;
    }
    this.expireAddresses(this.clock.now());
    if (f.udp) {
      if (f.udp.dstPort === DHCPV6_CLIENT_PORT && this.dhcp?.handleFrame(buf)) return;
      this.counters.unknownDropped++;
      return;
    }
    const msg = f.icmpv6;
    switch (msg?.type) {
      case 'router-advertisement':
        return this.onRouterAdvertisement(f, msg);
      case 'neighbor-solicitation':
        return this.onNeighborSolicitation(f, msg);
      case 'neighbor-advertisement':
        return this.onNeighborAdvertisement(f, msg);
      case 'echo-request':
        return this.onEchoRequest(f, msg);
      case 'unknown':
        if (msg.icmpType === MLD_QUERY) return this.onMldQuery(f);
        this.counters.unknownDropped++;
        return;
      default:
        this.counters.unknownDropped++;
    }
  }

  private forUs(buf: Buffer): boolean {
    if (buf.length < 6) return true; // let the decoder count it as malformed
    for (const mac of this.accepted) if (buf.compare(mac, 0, 6, 0, 6) === 0) return true;
    return false;
  }

  /**
   * The destination MACs of every frame this host needs: its own, broadcast, all-nodes (RAs, MLD
   * general queries, DAD's NAs) and the solicited-node group of each address it holds or is
   * probing (NS for it, DAD probes from others; RFC 4861 §7.2.1, RFC 4862 §5.4.2). The EUI-64
   * link-local and SLAAC addresses share one group; a delegated <prefix>::1 has its own.
   */
  acceptedMacs(): string[] {
    const groups = new Set<string>();
    for (const a of this.addresses.all()) if (a.dad !== 'duplicate') groups.add(multicastMac(solicitedNodeAddress(a.address)));
    return [this.mac, ETHERNET_BROADCAST, ALL_NODES_MAC, ...[...groups].sort()];
  }

  /** Brings forUs and the link's filter in line with the address table; call after every change to it. */
  private syncAccepted(): void {
    const macs = this.acceptedMacs();
    const key = macs.join(' ');
    if (key === this.acceptedKey) return;
    this.acceptedKey = key;
    this.accepted = macs.map((m) => macToBytes(m));
    this.link.acceptOnly?.(macs);
  }

  private expireAddresses(now: number): void {
    this.addresses.expire(now);
    this.syncAccepted();
  }

  /** RFC 4861 §6.1.2, §7.1.1, §7.1.2: hop limit 255 (never forwarded) and code 0. */
  private validNd(f: DecodedFrame, msg: Icmpv6Message): boolean {
    if (f.ipv6!.hopLimit === ND_HOP_LIMIT && msg.code === 0) return true;
    this.counters.malformed++;
    return false;
  }

  private onRouterAdvertisement(f: DecodedFrame, ra: RouterAdvertisement): void {
    const src = f.ipv6!.src;
    if (!this.validNd(f, ra)) return;
    if (!isLinkLocal(src)) {
      this.counters.malformed++;
      return;
    }
    if (this.linkLocalDuplicate()) return;
    this.counters.raAccepted++;
    const now = this.clock.now();
    const sllao = option(ra.options, 'source-link-layer-address')?.address;
    if (sllao) this.neighbors.learn(src, sllao);
    this.routers.update(src, sllao, ra.routerLifetime, now);
    this.raSeen = true;
    this.stopTimer(this.rsTimer);
    for (const o of ra.options) if (o.type === 'prefix-information') this.onPrefixInformation(o, now);
  }

  /** RFC 4862 §5.5.3 for the A flag, RFC 4861 §6.3.4 for the L flag. */
  private onPrefixInformation(pio: PrefixInformationOption, now: number): void {
    if (pio.preferredLifetime > pio.validLifetime || pio.prefixLength > 128) return; // (c)
    const network = ipv6ToBigInt(pio.prefix) & ~((1n << BigInt(128 - pio.prefixLength)) - 1n);
    const prefix = Prefix.of(network, pio.prefixLength);
    if (isLinkLocal(prefix.address())) return; // (b)
    if (pio.onLink) {
      const key = prefix.toString();
      if (pio.validLifetime === 0) this.onLink.delete(key);
      else this.onLink.set(key, { prefix, until: lifetimeEnd(pio.validLifetime, now) });
    }
    // (a), and (d): an interface identifier of 64 bits needs a /64.
    if (!pio.autonomous || pio.prefixLength !== SLAAC_PREFIX_LENGTH) return;
    const address = slaacAddress(prefix, this.mac);
    const known = this.addresses.get(address);
    if (!known) {
      if (pio.validLifetime === 0) return;
      const a = this.addresses.add({
        address,
        prefixLength: SLAAC_PREFIX_LENGTH,
        origin: 'slaac',
        dad: 'tentative',
        preferredUntil: lifetimeEnd(pio.preferredLifetime, now),
        validUntil: lifetimeEnd(pio.validLifetime, now),
      });
      this.startDad(a);
      return;
    }
    if (known.dad === 'duplicate' || known.origin !== 'slaac') return;
    known.preferredUntil = lifetimeEnd(pio.preferredLifetime, now); // (e): the preferred lifetime is always reset
    known.validUntil = updatedValidUntil(known.validUntil, pio.validLifetime, now);
  }

  private onNeighborSolicitation(f: DecodedFrame, ns: NeighborSolicitation): void {
    if (!this.validNd(f, ns)) return;
    const { src, dst } = f.ipv6!;
    const sllao = option(ns.options, 'source-link-layer-address')?.address;
    const unspecified = src === '::';
    // RFC 4861 §7.1.1: a DAD probe goes to the solicited-node group and carries no SLLAO.
    if (isMulticast(ns.target) || (unspecified && (dst !== solicitedNodeAddress(ns.target) || sllao))) {
      this.counters.malformed++;
      return;
    }
    const a = this.addresses.get(ns.target);
    if (!a || a.dad === 'duplicate') return;
    if (a.dad === 'tentative' || a.dad === 'optimistic') {
      if (unspecified) {
        // RFC 7527: our own probe looped back carries our nonce; anyone else's probe means a duplicate.
        const nonce = option(ns.options, 'nonce')?.nonce;
        if (!nonce || !nonce.equals(this.dadNonces.get(a.address) ?? Buffer.alloc(0))) this.markDuplicate(a);
        return;
      }
      if (a.dad === 'tentative') return; // RFC 4862 §5.4.3: a tentative address is not answered for
    }
    if (!unspecified && sllao) this.neighbors.learn(src, sllao);
    // RFC 4861 §7.2.4: to the soliciting node (S=1), or to all nodes (S=0) for a DAD probe;
    // RFC 4429 §3.3: an optimistic address never overrides an existing cache entry (O=0).
    const na: NeighborAdvertisement = {
      type: 'neighbor-advertisement',
      code: 0,
      router: false,
      solicited: !unspecified,
      override: a.dad !== 'optimistic',
      reserved: 0,
      target: a.address,
      options: [{ type: 'target-link-layer-address', address: this.mac }],
    };
    const dstMac = unspecified ? multicastMac(ALL_NODES) : (sllao ?? f.ethernet.src);
    this.transmit(this.icmpFrame(dstMac, a.address, unspecified ? ALL_NODES : src, ND_HOP_LIMIT, na));
    this.counters.nsAnswered++;
  }

  private onNeighborAdvertisement(f: DecodedFrame, na: NeighborAdvertisement): void {
    if (!this.validNd(f, na)) return;
    // RFC 4861 §7.1.2: S is 0 on multicast advertisements.
    if (isMulticast(na.target) || (isMulticast(f.ipv6!.dst) && na.solicited)) {
      this.counters.malformed++;
      return;
    }
    const a = this.addresses.get(na.target);
    if (a) {
      // RFC 4862 §5.4.4: someone else holds the address we are probing.
      if (a.dad === 'tentative' || a.dad === 'optimistic') this.markDuplicate(a);
      return;
    }
    const tllao = option(na.options, 'target-link-layer-address')?.address;
    this.neighbors.learn(na.target, tllao ?? f.ethernet.src);
  }

  private onEchoRequest(f: DecodedFrame, echo: EchoRequest): void {
    const { src, dst } = f.ipv6!;
    const a = this.addresses.get(dst);
    if (!a || !isUsable(a) || isMulticast(src) || src === '::') {
      this.counters.unknownDropped++;
      return;
    }
    const reply: Icmpv6Message = { type: 'echo-reply', code: 0, identifier: echo.identifier, sequence: echo.sequence, data: echo.data };
    this.counters.echoAnswered++;
    this.sendUnicast(dst, src, DEFAULT_HOP_LIMIT, reply);
  }

  /**
   * RFC 3810 §6.2, reduced: a general query, or one for our group, is answered with the current
   * state once, after a random delay within the query's Maximum Response Delay (§5.1.3), so a
   * querier's thousands of members spread their reports over the interval it asked for.
   */
  private onMldQuery(f: DecodedFrame): void {
    const ll = this.addresses.get(this.linkLocal);
    const body = f.icmpv6?.type === 'unknown' ? f.icmpv6.body : Buffer.alloc(0);
    if (f.ipv6!.hopLimit !== 1 || !isLinkLocal(f.ipv6!.src) || body.length < MLD_QUERY_BODY) {
      this.counters.malformed++;
      return;
    }
    const group = ipv6FromBytes(body, 4);
    if (group !== '::' && group !== solicitedNodeAddress(this.linkLocal)) return;
    if (!ll || ll.dad === 'duplicate' || this.mldPending) return;
    this.mldPending = true;
    this.timer(
      () => {
        this.mldPending = false;
        this.sendMldReport(isUsable(ll) ? ll.address : '::', MODE_IS_EXCLUDE);
      },
      Math.floor(this.random() * maxResponseDelayMs(body.readUInt16BE(0))),
    );
  }

  private sendMldReport(src: string, recordType: number): void {
    const group = solicitedNodeAddress(this.linkLocal);
    if (this.opts.mldVersion === 1) {
      // RFC 2710 §3: a Multicast Listener Report (131) to the group itself, which it names.
      const body = Buffer.alloc(20);
      ipv6ToBytes(group).copy(body, 4);
      this.transmit(
        buildFrame({
          ethernet: { src: this.mac, dst: multicastMac(group), etherType: ETHERTYPE_IPV6 },
          ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src, dst: group },
          extensions: [{ type: 'hop-by-hop', options: ROUTER_ALERT }],
          icmpv6: { type: 'unknown', icmpType: MLD_V1_REPORT, code: 0, body },
        }),
      );
      return;
    }
    this.transmit(
      buildFrame({
        ethernet: { src: this.mac, dst: multicastMac(ALL_MLDV2_ROUTERS), etherType: ETHERTYPE_IPV6 },
        ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src, dst: ALL_MLDV2_ROUTERS },
        extensions: [{ type: 'hop-by-hop', options: ROUTER_ALERT }],
        icmpv6: { type: 'mld2-report', code: 0, records: [{ recordType, auxData: Buffer.alloc(0), multicastAddress: group, sources: [] }] },
      }),
    );
  }

  // ---- DAD (RFC 4862 §5.4, RFC 4429) ----

  private startDad(a: HostAddress): void {
    a.dad = this.opts.dad === 'optimistic' ? 'optimistic' : 'tentative';
    this.syncAccepted(); // before the probe: someone else's probe for the address must reach us
    const nonce = Buffer.from(Array.from({ length: DAD_NONCE_BYTES }, () => Math.floor(this.random() * 256)));
    this.dadNonces.set(a.address, nonce);
    const sn = solicitedNodeAddress(a.address);
    const ns: NeighborSolicitation = { type: 'neighbor-solicitation', code: 0, target: a.address, options: [{ type: 'nonce', nonce }] };
    this.transmit(this.icmpFrame(multicastMac(sn), '::', sn, ND_HOP_LIMIT, ns));
    if (a.dad === 'optimistic') this.addressUsable(a);
    this.timer(() => {
      this.dadNonces.delete(a.address);
      if (a.dad === 'duplicate' || this.addresses.get(a.address) !== a) return;
      const wasTentative = a.dad === 'tentative';
      a.dad = 'done';
      // Linux re-sends its report from the link-local once that passed DAD (ipv6_mc_dad_complete), before the RS.
      if (a.origin === 'link-local') this.sendMldReport(a.address, CHANGE_TO_EXCLUDE_MODE);
      if (wasTentative) this.addressUsable(a);
    }, RETRANS_TIMER_MS);
  }

  private markDuplicate(a: HostAddress): void {
    a.dad = 'duplicate';
    this.dadNonces.delete(a.address);
    this.syncAccepted();
    // RFC 4862 §5.4.5: a duplicate EUI-64 link-local means another node has our MAC: stop using the interface.
    if (a.origin === 'link-local') {
      this.stopTimer(this.rsTimer);
      this.dhcp?.stop();
    }
  }

  private linkLocalDuplicate(): boolean {
    return this.addresses.get(this.linkLocal)?.dad === 'duplicate';
  }

  /** The address became usable (optimistic at once, or after DAD). The link-local's turn starts RS and DHCP. */
  private addressUsable(a: HostAddress): void {
    if (a.origin !== 'link-local') return;
    // Like Linux, the first RS goes out even after an RA was heard; only the retransmissions stop.
    if (this.rsCount === 0) this.sendRouterSolicitation(true);
    this.maybeStartDhcp();
  }

  // ---- router solicitation (RFC 4861 §6.3.7) ----

  private sendRouterSolicitation(first = false): void {
    const ll = this.addresses.get(this.linkLocal);
    if ((this.raSeen && !first) || !ll || !isUsable(ll) || this.rsCount >= MAX_RTR_SOLICITATIONS) return;
    this.rsCount++;
    // RFC 4429 §3.2: no SLLAO from an optimistic address (it could override a rightful owner's cache entry).
    const options: NdOption[] = ll.dad === 'done' ? [{ type: 'source-link-layer-address', address: this.mac }] : [];
    this.transmit(this.icmpFrame(multicastMac(ALL_ROUTERS), ll.address, ALL_ROUTERS, ND_HOP_LIMIT, { type: 'router-solicitation', code: 0, options }));
    this.counters.rsSent++;
    if (this.rsCount < MAX_RTR_SOLICITATIONS && !this.raSeen) this.rsTimer = this.timer(() => this.sendRouterSolicitation(), RTR_SOLICITATION_INTERVAL_MS);
  }

  // ---- DHCPv6 PD ----

  private maybeStartDhcp(): void {
    const ll = this.addresses.get(this.linkLocal);
    const factory = this.opts.dhcpFactory;
    // Runs from timers: without a client (unit tests of the rest) it does nothing rather than throw.
    if (this.dhcp || !this.dhcpWanted || !factory || this.stopped || !ll || !isUsable(ll)) return;
    const duid = this.opts.dhcp?.duid ?? encodeDuid({ type: 'll', hardwareType: DUID_HARDWARE_ETHERNET, linkLayerAddress: this.mac });
    this.dhcp = factory({
      mac: this.mac,
      linkLocal: this.linkLocal,
      duid,
      iaids: this.opts.dhcp?.iaids ?? [0],
      send: (frame) => this.transmit(frame),
      clock: this.clock,
      random: this.random,
      firstSolicitDelayMs: this.opts.dhcp?.firstSolicitDelayMs ?? 0,
    });
    this.dhcp.on('bound', () => this.syncDelegated());
    this.dhcp.on('changed', () => this.syncDelegated());
    this.dhcp.start();
  }

  /** One address per delegated prefix (<prefix>::1), so the core can ping into it; gone with the prefix. */
  private syncDelegated(): void {
    const now = this.clock.now();
    const wanted = new Map<string, { preferredUntil: number | null; validUntil: number | null }>();
    for (const p of this.dhcp?.snapshot().prefixes ?? []) {
      if (p.validLifetime === 0) continue;
      wanted.set(Prefix.parse(p.prefix).address(1n), {
        preferredUntil: lifetimeEnd(p.preferredLifetime, p.obtainedAt),
        validUntil: lifetimeEnd(p.validLifetime, p.obtainedAt),
      });
    }
    for (const a of this.addresses.all()) if (a.origin === 'delegated' && !wanted.has(a.address)) this.addresses.delete(a.address);
    for (const [address, life] of wanted) {
      const a = this.addresses.get(address);
      if (a) Object.assign(a, life);
      // Routed to us, not on the link: no DAD.
      else this.addresses.add({ address, prefixLength: 128, origin: 'delegated', dad: 'done', ...life });
    }
    this.expireAddresses(now);
  }

  // ---- sending ----

  private transmit(frame: Buffer): boolean {
    if (this.stopped) return false;
    try {
      if (this.link.send(frame) !== false) {
        this.counters.framesOut++;
        return true;
      }
    } catch {
      // A port going away under a send (vm destroy) must not take the other instances with it.
    }
    this.counters.sendErrors++;
    return false;
  }

  private icmpFrame(dstMac: string, src: string, dst: string, hopLimit: number, icmpv6: Icmpv6Message): Buffer {
    return buildFrame({
      ethernet: { src: this.mac, dst: dstMac, etherType: ETHERTYPE_IPV6 },
      ipv6: { trafficClass: 0, flowLabel: 0, hopLimit, src, dst },
      icmpv6,
    });
  }

  /** RFC 4861 §5.2, reduced: link-local and on-link destinations directly, the rest via the default router. */
  private nextHop(dst: string): string | undefined {
    const now = this.clock.now();
    if (isLinkLocal(dst)) return dst;
    for (const [k, p] of this.onLink) {
      if (p.until !== null && now >= p.until) this.onLink.delete(k);
      else if (p.prefix.containsAddress(dst)) return dst;
    }
    return this.routers.pick(now)?.address;
  }

  private sendUnicast(src: string, dst: string, hopLimit: number, msg: Icmpv6Message): void {
    const hop = this.nextHop(dst);
    if (!hop) {
      this.counters.undeliverable++;
      return;
    }
    this.neighbors.resolve(hop, (mac) => this.icmpFrame(mac, src, dst, hopLimit, msg));
  }

  /** Address resolution (RFC 4861 §7.2.2): from the link-local when usable, SLLAO unless it is optimistic. */
  private solicit(target: string): void {
    const ll = this.addresses.get(this.linkLocal);
    if (!ll || !isUsable(ll)) return;
    const sn = solicitedNodeAddress(target);
    const options: NdOption[] = ll.dad === 'done' ? [{ type: 'source-link-layer-address', address: this.mac }] : [];
    this.transmit(this.icmpFrame(multicastMac(sn), ll.address, sn, ND_HOP_LIMIT, { type: 'neighbor-solicitation', code: 0, target, options }));
  }

  private timer(fn: () => void, ms: number): unknown {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  private stopTimer(handle: unknown): void {
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.timers.delete(handle);
  }
}

/** RFC 3810 §5.1.3: the Maximum Response Code in milliseconds (MLDv1's field reads the same below 32768). */
export function maxResponseDelayMs(code: number): number {
  if (code < 0x8000) return code;
  return ((code & 0x0fff) | 0x1000) << (((code >> 12) & 0x7) + 3);
}

/**
 * Multicast frames every instance of a hypervisor receives alike (an RA to all nodes reaches each
 * of its 250 TAPs: at 5,000 instances hundreds of RAs, each decoded 5,000 times, were most of the
 * hosts' CPU) are decoded once: the last few, by their bytes. The decoded frame is only read.
 */
const SHARED_DECODES = 8;
const sharedDecodes = new Map<string, DecodedFrame>();
function decodeShared(buf: Buffer): DecodedFrame {
  if ((buf[0]! & 1) === 0) return decodeFrame(buf);
  const key = buf.toString('latin1');
  const known = sharedDecodes.get(key);
  if (known) return known;
  const f = decodeFrame(buf);
  if (sharedDecodes.size >= SHARED_DECODES) sharedDecodes.delete(sharedDecodes.keys().next().value!);
  sharedDecodes.set(key, f);
  return f;
}

function isMldQuery(f: DecodedFrame): boolean {
  return f.extensions!.length === 1 && f.extensions![0]!.type === 'hop-by-hop' && f.icmpv6?.type === 'unknown' && f.icmpv6.icmpType === MLD_QUERY;
}

function option<T extends NdOption['type']>(options: NdOption[], type: T): Extract<NdOption, { type: T }> | undefined {
  return options.find((o): o is Extract<NdOption, { type: T }> => o.type === type);
}
