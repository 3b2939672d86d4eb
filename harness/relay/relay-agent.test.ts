/**
 * The relay agent's decisions without sockets or namespaces: what a Relay-Forward
 * carries, what is dropped and counted, and which routes a Relay-Reply installs or removes.
 */
import { expect } from 'chai';
import { buildFrame } from '../packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { encodeDhcpv6, findOption, type ClientServerMessage, type Dhcpv6Message, type RelayMessage } from '../packet/dhcpv6.ts';
import { testRelayConfig } from './testing/relay-config.ts';
import { Counters } from './counters.ts';
import { REPAIR_GRACE_MS } from './lease-repair.ts';
import { RelayAgent } from './relay-agent.ts';
import type { DelegatedRoute } from './routes.ts';

const CFG = testRelayConfig();
const CLIENT_MAC = '06:7a:88:00:00:8b';
// A stable-privacy link-local: nothing in it says which MAC sent it.
const CLIENT_LL = 'fe80::f87b:c2:cebc:1333';
const KEA = CFG.servers[0]!;

function clientFrame(message: Dhcpv6Message, over: { src?: string; mac?: string; dst?: string; dstMac?: string } = {}): Buffer {
  return buildFrame({
    ethernet: { dst: over.dstMac ?? '33:33:00:01:00:02', src: over.mac ?? CLIENT_MAC, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src: over.src ?? CLIENT_LL, dst: over.dst ?? 'ff02::1:2' },
    udp: { srcPort: 546, dstPort: 547 },
    dhcpv6: message,
  });
}

const duid = { type: 'client-id' as const, duid: { type: 'll' as const, hardwareType: 1, linkLayerAddress: '02:de:ad:be:ef:01' } };
const iaprefix = (prefix: string, valid: number, prefixLength = 60) => ({
  type: 'iaprefix' as const,
  preferredLifetime: valid,
  validLifetime: valid,
  prefixLength,
  prefix,
  options: [],
});
const msg = (type: ClientServerMessage['type'], transactionId: number, prefixes: ReturnType<typeof iaprefix>[] = []): ClientServerMessage => ({
  type,
  transactionId,
  options: [duid, { type: 'ia-pd', iaid: 1, t1: 0, t2: 0, options: prefixes }],
});
const relayReply = (inner: Dhcpv6Message, over: Partial<RelayMessage> = {}): Buffer =>
  encodeDhcpv6({
    type: 'relay-reply',
    hopCount: 0,
    linkAddress: CFG.linkAddress,
    peerAddress: CLIENT_LL,
    options: [
      { type: 'interface-id', id: Buffer.from('lan') },
      { type: 'relay-message', message: inner },
    ],
    ...over,
  });

function harness() {
  const counters = new Counters();
  const toServer: [string, Dhcpv6Message][] = [];
  const toClient: [string, string | undefined, Dhcpv6Message][] = [];
  const installed: DelegatedRoute[] = [];
  const removed: string[] = [];
  const agent = new RelayAgent(
    CFG,
    counters,
    { toServer: (s, m) => toServer.push([s, m]), toClient: (p, mac, m) => toClient.push([p, mac, m]) },
    {
      install: async (r) => void installed.push(...r),
      remove: async (p) => (removed.push(...p), p),
    },
  );
  return { agent, counters, toServer, toClient, installed, removed };
}

describe('relay agent (RFC 8415 §19, RFC 4649)', () => {
  it('wraps a client message in a Relay-Forward: hop 0, link-address, peer-address, Interface-Id, Remote-Id = enterprise + the frame source MAC', () => {
    const h = harness();
    h.agent.fromClient(clientFrame(msg('solicit', 7)));
    expect(h.toServer).to.have.length(1);
    const [server, fwd] = h.toServer[0]!;
    expect(server).to.equal(KEA);
    expect(fwd).to.deep.include({ type: 'relay-forward', hopCount: 0, linkAddress: CFG.linkAddress, peerAddress: CLIENT_LL });
    const f = fwd as RelayMessage;
    expect(findOption(f.options, 'remote-id')).to.deep.equal({ type: 'remote-id', enterpriseNumber: 4491, remoteId: CLIENT_MAC });
    expect(findOption(f.options, 'interface-id')!.id.toString()).to.equal('lan');
    expect(findOption(f.options, 'relay-message')!.message).to.deep.equal(msg('solicit', 7));
    expect(h.counters.snapshot().received).to.deep.equal({ 'client:solicit': 1 });
  });

  it('drops server-only and relay messages from the client side, and counts each', () => {
    const h = harness();
    for (const type of ['advertise', 'reply', 'reconfigure'] as const) h.agent.fromClient(clientFrame(msg(type, 1)));
    h.agent.fromClient(
      clientFrame({
        type: 'relay-forward',
        hopCount: 0,
        linkAddress: '::',
        peerAddress: CLIENT_LL,
        options: [
          { type: 'remote-id', enterpriseNumber: 4491, remoteId: '02:00:00:00:00:66' },
          { type: 'relay-message', message: msg('solicit', 2) },
        ],
      }),
    );
    h.agent.fromClient(clientFrame({ type: 'relay-reply', hopCount: 0, linkAddress: '::', peerAddress: CLIENT_LL, options: [] }));
    h.agent.fromClient(clientFrame({ type: 'relay-forward', hopCount: 8, linkAddress: '::', peerAddress: CLIENT_LL, options: [] }));
    expect(h.toServer).to.deep.equal([]);
    expect(h.counters.snapshot().dropped).to.deep.equal({
      'from-client:advertise': 1,
      'from-client:reply': 1,
      'from-client:reconfigure': 1,
      'from-client:relay-forward': 1,
      'from-client:relay-reply': 1,
      'hop-count-exceeded': 1,
    });
  });

  it('drops malformed, oversize, non-link-local and foreign frames without throwing', () => {
    const h = harness();
    const good = clientFrame(msg('solicit', 3));
    h.agent.fromClient(good.subarray(0, good.length - 3)); // truncated IPv6 payload
    h.agent.fromClient(Buffer.alloc(5));
    h.agent.fromClient(clientFrame({ type: 'solicit', transactionId: 4, options: [{ type: 'unknown', optionCode: 65000, data: Buffer.alloc(1400) }] }));
    h.agent.fromClient(clientFrame(msg('solicit', 5), { src: '2001:db8:100::5' }));
    h.agent.fromClient(clientFrame(msg('solicit', 6), { mac: '33:33:00:00:00:01' }));
    h.agent.fromClient(clientFrame(msg('solicit', 7), { dst: '2001:db8:100::9', dstMac: '02:00:00:00:00:09' }));
    expect(h.toServer).to.deep.equal([]);
    expect(h.counters.snapshot().dropped).to.deep.equal({ malformed: 2, oversize: 1, 'source-not-link-local': 1, 'multicast-source-mac': 1, 'not-for-us': 1 });
  });

  it("delivers a Relay-Reply's inner message to peer-address with the MAC learned from its frames, and routes the Reply's prefixes", () => {
    const h = harness();
    h.agent.fromClient(clientFrame(msg('request', 9)));
    h.agent.fromServer(relayReply(msg('reply', 9, [iaprefix('2001:db8:200::', 4000)])), KEA);
    expect(h.toClient.map(([p, mac, m]) => [p, mac, m.type])).to.deep.equal([[CLIENT_LL, CLIENT_MAC, 'reply']]);
    expect(h.installed.map((r) => [r.prefix, r.via, r.mac])).to.deep.equal([['2001:db8:200::/60', CLIENT_LL, CLIENT_MAC]]);
    expect(h.installed[0]!.expiresAt! - Date.now()).to.be.within(3_990_000, 4_000_000);
  });

  it('removes the prefixes on the Reply to a Release (named in the Release) and on a valid lifetime of 0', () => {
    const h = harness();
    h.agent.fromClient(clientFrame(msg('release', 11, [iaprefix('2001:db8:200::', 0)])));
    h.agent.fromServer(relayReply({ type: 'reply', transactionId: 11, options: [duid, { type: 'status-code', code: 0, message: 'released' }] }), KEA);
    h.agent.fromClient(clientFrame(msg('renew', 12)));
    h.agent.fromServer(relayReply(msg('reply', 12, [iaprefix('2001:db8:200:10::', 0)])), KEA);
    expect(h.removed).to.deep.equal(['2001:db8:200::/60', '2001:db8:200:10::/60']);
    expect(h.installed).to.deep.equal([]);
  });

  it('routes only prefixes inside the delegation pool: a Reply delegating ::/0 or the pod /64 is delivered, its routes refused and counted', () => {
    const h = harness();
    h.agent.fromClient(clientFrame(msg('request', 13)));
    h.agent.fromServer(relayReply(msg('reply', 13, [iaprefix('::', 4000, 0), iaprefix('2001:db8:100::', 4000, 64), iaprefix('2001:db8:200:20::', 4000)])), KEA);
    h.agent.fromClient(clientFrame(msg('renew', 14)));
    h.agent.fromServer(relayReply(msg('reply', 14, [iaprefix('::', 0, 0)])), KEA);
    expect(
      h.toClient.map(([, , m]) => m.type),
      'both Replies delivered as the server sent them',
    ).to.deep.equal(['reply', 'reply']);
    expect(h.installed.map((r) => r.prefix)).to.deep.equal(['2001:db8:200:20::/60']);
    expect(h.removed).to.deep.equal([]);
    expect(h.counters.snapshot().routes.refused).to.equal(3);
  });

  it("routes a binding the server answered through the other router only, from the server's leases of the client's MAC", async () => {
    const h = harness();
    const t0 = Date.now();
    const lease = (mac: string, prefix: string, len = 60) => ({
      type: 'IA_PD',
      'ip-address': prefix,
      'prefix-len': len,
      'hw-address': mac,
      cltt: Math.floor(t0 / 1000),
      'valid-lft': 4000,
      state: 0,
    });
    const leases = [lease(CLIENT_MAC, '2001:db8:200:30::'), lease('02:00:00:00:00:99', '2001:db8:200:40::'), lease(CLIENT_MAC, '::', 0)];
    let asked = 0;
    const fetch = async () => (asked++, leases);
    h.agent.fromClient(clientFrame(msg('request', 21)));
    expect(await h.agent.repairRoutes(fetch, t0 + 100), 'within the grace period: no lookup').to.equal(0);
    expect(asked).to.equal(0);
    expect(await h.agent.repairRoutes(fetch, t0 + REPAIR_GRACE_MS + 1)).to.equal(1);
    // Only the client's own lease, via the address its Request came from, and nothing outside the pool.
    expect(h.installed.map((r) => [r.prefix, r.via, r.mac])).to.deep.equal([['2001:db8:200:30::/60', CLIENT_LL, CLIENT_MAC]]);
    expect(h.counters.snapshot().routes.repaired).to.equal(1);
    expect(await h.agent.repairRoutes(fetch, t0 + 10 * REPAIR_GRACE_MS), 'done: nothing left to repair').to.equal(0);
    // A Reply relayed here settles the exchange: no lookup at all.
    h.agent.fromClient(clientFrame(msg('renew', 22)));
    h.agent.fromServer(relayReply(msg('reply', 22, [iaprefix('2001:db8:200:30::', 4000)])), KEA);
    asked = 0;
    expect(await h.agent.repairRoutes(fetch, Date.now() + 10 * REPAIR_GRACE_MS)).to.equal(0);
    expect(asked).to.equal(0);
  });

  it('gives up a repair after a few lookups that find no lease (the exchange failed)', async () => {
    const h = harness();
    const t0 = Date.now();
    let asked = 0;
    h.agent.fromClient(clientFrame(msg('request', 23)));
    for (let k = 1; k <= 5; k++) await h.agent.repairRoutes(async () => (asked++, []), t0 + k * (REPAIR_GRACE_MS + 1));
    expect(asked).to.equal(3);
    expect(h.installed).to.deep.equal([]);
  });

  it('drops Relay-Replies from unknown servers, for another link, nested, malformed or not relay-replies', () => {
    const h = harness();
    const reply = msg('reply', 1, [iaprefix('2001:db8:200::', 4000)]);
    h.agent.fromServer(relayReply(reply), 'fd76:3670:ffff:547::666');
    h.agent.fromServer(relayReply(reply, { linkAddress: '2001:db8:100::2' }), KEA);
    h.agent.fromServer(
      relayReply({
        type: 'relay-reply',
        hopCount: 0,
        linkAddress: CFG.linkAddress,
        peerAddress: CLIENT_LL,
        options: [{ type: 'relay-message', message: reply }],
      }),
      KEA,
    );
    h.agent.fromServer(Buffer.from('0d00', 'hex'), KEA);
    h.agent.fromServer(encodeDhcpv6(reply), KEA);
    h.agent.fromServer(relayReply(msg('solicit', 2)), KEA);
    expect(h.toClient).to.deep.equal([]);
    expect(h.installed).to.deep.equal([]);
    expect(h.counters.snapshot().dropped).to.deep.equal({
      'unknown-server': 1,
      'foreign-link-address': 1,
      'nested-relay-reply': 1,
      'server-malformed': 1,
      'from-server:reply': 1,
      'bad-relay-message': 1,
    });
  });
});
