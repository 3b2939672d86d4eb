import { expect } from 'chai';
import {
  clientMessage,
  dhcpv6Datagram,
  echoReply,
  echoRequest,
  fragments,
  icmpv6Packet,
  mldQuery,
  mldReport,
  neighborAdvertisement,
  neighborSolicitation,
  RA_DEFAULTS,
  redirect,
  relayForward,
  routerAdvertisement,
  routerSolicitation,
  serverMessage,
  solicit,
  tcpSyn,
  udpDatagram,
} from './builders.ts';
import { buildFrame, decodeFrame, type DecodedFrame, type Frame } from './frame.ts';
import { verifyPseudoHeaderChecksum } from './checksum.ts';
import { PROTO } from './ipv6.ts';
import {
  ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC,
  ALL_MLDV2_ROUTERS_MAC,
  ALL_NODES_MAC,
  ALL_ROUTERS_MAC,
  DHCPV6_CLIENT_PORT,
  DHCPV6_SERVER_PORT,
  ND_HOP_LIMIT,
} from './constants.ts';
import { findOption, findOptions, type ClientServerMessage, type RelayMessage } from './dhcpv6.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';

/** CloudStack's EUI-64 test vector: its link-local is fe80::47a:88ff:fe00:8b. */
const MAC = '06:7a:88:00:00:8b';
const LINK_LOCAL = 'fe80::47a:88ff:fe00:8b';
const GLOBAL = '2001:db8:100:0:47a:88ff:fe00:8b';
const PEER = '2001:db8:100::1';
const PEER_MAC = '00:0c:db:f9:cf:00';

/** Builds, decodes, and checks the UDP/ICMPv6 checksum verified. */
function roundTrip(frame: Frame): DecodedFrame {
  const decoded = decodeFrame(buildFrame(frame));
  if (decoded.udp || decoded.icmpv6) expect(decoded.checksumStatus?.valid, 'checksum').to.equal(true);
  return decoded;
}

describe('frame builders (RFC defaults, overridable)', () => {
  describe('Neighbor Discovery: hop limit 255, link-local source, the group MAC', () => {
    it('Router Solicitation: link-local → ff02::2 with the source link-layer address (RFC 4861 §4.1)', () => {
      const f = roundTrip(routerSolicitation({ mac: MAC }));
      expect(f.ethernet).to.include({ src: MAC, dst: ALL_ROUTERS_MAC });
      expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: 'ff02::2', hopLimit: ND_HOP_LIMIT });
      expect(f.icmpv6).to.deep.equal({ type: 'router-solicitation', code: 0, options: [{ type: 'source-link-layer-address', address: MAC }] });
    });

    it('Router Solicitation from :: carries no link-layer option (RFC 4861 §4.1)', () => {
      const f = roundTrip(routerSolicitation({ mac: MAC, src: '::' }));
      expect(f.icmpv6).to.deep.include({ options: [] });
    });

    it('Router Advertisement: §6.2.1 defaults, one PIO (L=1, A=1) per prefix', () => {
      const f = roundTrip(routerAdvertisement({ mac: MAC, prefixes: ['2001:db8:bad::/64'] }));
      expect(f.ethernet.dst).to.equal(ALL_NODES_MAC);
      expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: 'ff02::1', hopLimit: 255 });
      expect(f.icmpv6).to.include({
        type: 'router-advertisement',
        routerLifetime: RA_DEFAULTS.routerLifetime,
        curHopLimit: 64,
        managed: false,
        other: false,
        preference: 'medium',
      });
      const ra = f.icmpv6 as Extract<DecodedFrame['icmpv6'], { type: 'router-advertisement' }>;
      expect(ra.options).to.deep.equal([
        { type: 'source-link-layer-address', address: MAC },
        {
          type: 'prefix-information',
          prefixLength: 64,
          onLink: true,
          autonomous: true,
          otherFlags: 0,
          validLifetime: 2_592_000,
          preferredLifetime: 604_800,
          prefix: '2001:db8:bad::',
        },
      ]);
    });

    it('Router Advertisement: overrides and extension headers are honoured', () => {
      const pad = { optionType: 1, data: Buffer.alloc(4) };
      const f = roundTrip(
        routerAdvertisement({
          mac: MAC,
          preference: 'high',
          routerLifetime: 0,
          managed: true,
          hopLimit: 64,
          extensions: [{ type: 'destination-options', options: [pad] }],
        }),
      );
      expect(f.ipv6!.hopLimit).to.equal(64);
      expect(f.extensions?.map((e) => e.type)).to.deep.equal(['destination-options']);
      expect(f.icmpv6).to.include({ preference: 'high', routerLifetime: 0, managed: true });
    });

    it('Neighbor Solicitation for address resolution: to the solicited-node group and its MAC, with SLLA (RFC 4861 §7.2.2)', () => {
      const f = roundTrip(neighborSolicitation({ mac: MAC, src: GLOBAL, target: '2001:db8:100::12:3456' }));
      expect(f.ethernet.dst).to.equal('33:33:ff:12:34:56');
      expect(f.ipv6).to.include({ src: GLOBAL, dst: 'ff02::1:ff12:3456', hopLimit: 255 });
      expect(f.icmpv6).to.deep.equal({
        type: 'neighbor-solicitation',
        code: 0,
        target: '2001:db8:100::12:3456',
        options: [{ type: 'source-link-layer-address', address: MAC }],
      });
    });

    it('Neighbor Solicitation for DAD: from ::, no link-layer option (RFC 4862 §5.4.2)', () => {
      const f = roundTrip(neighborSolicitation({ mac: MAC, target: GLOBAL, purpose: 'dad' }));
      expect(f.ipv6).to.include({ src: '::', dst: 'ff02::1:ff00:8b' });
      expect(f.ethernet.dst).to.equal('33:33:ff:00:00:8b');
      expect(f.icmpv6).to.deep.include({ options: [] });
    });

    it('Neighbor Solicitation for unreachability detection: unicast to the target, which needs its MAC (RFC 4861 §7.3.1)', () => {
      expect(() => neighborSolicitation({ mac: MAC, target: PEER, purpose: 'unreachability' })).to.throw(/needs the Ethernet destination/);
      const f = roundTrip(neighborSolicitation({ mac: MAC, target: PEER, purpose: 'unreachability', dstMac: PEER_MAC }));
      expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: PEER });
      expect(f.ethernet.dst).to.equal(PEER_MAC);
    });

    it('Neighbor Advertisement: unsolicited to all-nodes, S=0 O=1, its MAC as TLLA (RFC 4861 §7.2.6)', () => {
      const f = roundTrip(neighborAdvertisement({ mac: MAC, target: GLOBAL }));
      expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: 'ff02::1', hopLimit: 255 });
      expect(f.icmpv6).to.deep.equal({
        type: 'neighbor-advertisement',
        code: 0,
        router: false,
        solicited: false,
        override: true,
        reserved: 0,
        target: GLOBAL,
        options: [{ type: 'target-link-layer-address', address: MAC }],
      });
    });

    it('Neighbor Advertisement: a forged one (another target, another TLLA, the router flag) is built from overrides', () => {
      const f = roundTrip(neighborAdvertisement({ mac: MAC, target: 'fe80::20c:dbff:fef9:cf00', router: true, tlla: PEER_MAC, src: GLOBAL }));
      expect(f.ipv6!.src).to.equal(GLOBAL);
      expect(f.icmpv6).to.deep.include({
        router: true,
        target: 'fe80::20c:dbff:fef9:cf00',
        options: [{ type: 'target-link-layer-address', address: PEER_MAC }],
      });
      expect(roundTrip(neighborAdvertisement({ mac: MAC, target: GLOBAL, tlla: null })).icmpv6).to.deep.include({ options: [] });
    });

    it('Redirect: from the link-local to the host, hop limit 255, with TLLA (RFC 4861 §4.5)', () => {
      const f = roundTrip(redirect({ mac: MAC, dst: 'fe80::1', dstMac: PEER_MAC, target: LINK_LOCAL, destination: PEER }));
      expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: 'fe80::1', hopLimit: 255 });
      expect(f.icmpv6).to.deep.include({
        type: 'redirect',
        target: LINK_LOCAL,
        destination: PEER,
        options: [{ type: 'target-link-layer-address', address: MAC }],
      });
    });
  });

  it('MLDv2 Report: to ff02::16, hop limit 1, Router Alert in Hop-by-Hop, one join record per group (RFC 3810 §5)', () => {
    const f = roundTrip(mldReport({ mac: MAC, groups: ['ff02::1:ff00:8b'] }));
    expect(f.ethernet.dst).to.equal(ALL_MLDV2_ROUTERS_MAC);
    expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: 'ff02::16', hopLimit: 1 });
    expect(f.extensions?.[0]?.type).to.equal('hop-by-hop');
    const hbh = f.extensions![0] as { options: Array<{ optionType: number; data: Buffer }> };
    expect(hbh.options.find((o) => o.optionType === 5)?.data.toString('hex')).to.equal('0000');
    expect(f.icmpv6).to.deep.include({
      type: 'mld2-report',
      records: [{ recordType: 4, auxData: Buffer.alloc(0), multicastAddress: 'ff02::1:ff00:8b', sources: [] }],
    });
  });

  it('MLD Query: general to ff02::1 by default, or for a group, hop limit 1, Router Alert, Maximum Response Code (RFC 3810 §5.1)', () => {
    const general = roundTrip(mldQuery({ mac: MAC }));
    expect(general.ethernet.dst).to.equal('33:33:00:00:00:01');
    expect(general.ipv6).to.include({ src: LINK_LOCAL, dst: 'ff02::1', hopLimit: 1 });
    const hbh = general.extensions![0] as { options: Array<{ optionType: number; data: Buffer }> };
    expect(hbh.options.find((o) => o.optionType === 5)?.data.toString('hex')).to.equal('0000');
    const body = Buffer.alloc(24);
    expect(general.icmpv6).to.deep.include({ type: 'unknown', icmpType: 130, code: 0, body });
    const specific = roundTrip(mldQuery({ mac: MAC, group: 'ff02::1:ff00:8b', maxResponseCode: 10_000 }));
    const sb = (specific.icmpv6 as { body: Buffer }).body;
    expect(sb.readUInt16BE(0)).to.equal(10_000);
    expect(sb.subarray(4, 20)).to.deep.equal(ipv6ToBytes('ff02::1:ff00:8b'));
  });

  describe('ICMPv6, UDP and TCP between two addresses', () => {
    it('echo request and reply: hop limit 64, identifier, sequence and data as given', () => {
      const req = roundTrip(echoRequest({ mac: MAC, dstMac: PEER_MAC, src: GLOBAL, dst: PEER, identifier: 7, data: Buffer.from('x') }));
      expect(req.ipv6!.hopLimit).to.equal(64);
      expect(req.icmpv6).to.deep.equal({ type: 'echo-request', code: 0, identifier: 7, sequence: 1, data: Buffer.from('x') });
      expect(roundTrip(echoReply({ mac: MAC, dstMac: PEER_MAC, src: GLOBAL, dst: PEER })).icmpv6?.type).to.equal('echo-reply');
    });

    it('an ICMPv6 error carries the invoking packet', () => {
      const invoking = buildFrame(udpDatagram({ mac: MAC, dstMac: PEER_MAC, src: GLOBAL, dst: PEER })).subarray(14, 62);
      const f = roundTrip(
        icmpv6Packet({ mac: PEER_MAC, dstMac: MAC, src: PEER, dst: GLOBAL, message: { type: 'packet-too-big', code: 0, mtu: 1280, invoking } }),
      );
      expect(f.icmpv6).to.deep.equal({ type: 'packet-too-big', code: 0, mtu: 1280, invoking });
    });

    it('a unicast destination without its MAC is refused', () => {
      expect(() => echoRequest({ mac: MAC, src: GLOBAL, dst: PEER })).to.throw(/needs the Ethernet destination/);
    });

    it('UDP: ephemeral source port to Discard by default; ports and payload overridable', () => {
      const f = roundTrip(udpDatagram({ mac: MAC, dstMac: PEER_MAC, src: GLOBAL, dst: PEER }));
      expect(f.udp).to.deep.equal({ srcPort: 49152, dstPort: 9 });
      const g = roundTrip(udpDatagram({ mac: MAC, dstMac: PEER_MAC, src: GLOBAL, dst: PEER, sport: 40777, dport: 5000, payload: Buffer.from('probe') }));
      expect(g.udp).to.deep.equal({ srcPort: 40777, dstPort: 5000 });
      expect(g.payload?.toString()).to.equal('probe');
    });

    it('TCP SYN: 20 bytes, SYN only, a checksum that verifies over the pseudo-header', () => {
      const f = roundTrip(tcpSyn({ mac: MAC, dstMac: PEER_MAC, src: GLOBAL, dst: PEER, dport: 80 }));
      expect(f.protocol).to.equal(PROTO.tcp);
      const t = f.payload!;
      expect(t.length).to.equal(20);
      expect(t.readUInt16BE(2)).to.equal(80);
      expect(t[13]).to.equal(0x02);
      expect(verifyPseudoHeaderChecksum(ipv6ToBytes(GLOBAL), ipv6ToBytes(PEER), PROTO.tcp, t), 'TCP checksum').to.equal(true);
    });
  });

  describe('DHCPv6', () => {
    it("a client's datagram: link-local 546 → ff02::1:2 547, hop limit 1, a Solicit with DUID-LL and one IA_PD (RFC 8415 §7, §18.2.1)", () => {
      const f = roundTrip(dhcpv6Datagram({ mac: MAC }));
      expect(f.ethernet.dst).to.equal(ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC);
      expect(f.ipv6).to.include({ src: LINK_LOCAL, dst: 'ff02::1:2', hopLimit: 1 });
      expect(f.udp).to.deep.equal({ srcPort: DHCPV6_CLIENT_PORT, dstPort: DHCPV6_SERVER_PORT });
      const m = f.dhcpv6 as ClientServerMessage;
      expect(m.type).to.equal('solicit');
      expect(findOption(m.options, 'client-id')?.duid).to.deep.equal({ type: 'll', hardwareType: 1, linkLayerAddress: MAC });
      expect(findOptions(m.options, 'ia-pd').map((ia) => ia.iaid)).to.deep.equal([1]);
      expect(findOption(m.options, 'elapsed-time')).to.deep.equal({ type: 'elapsed-time', centiseconds: 0 });
    });

    it('to a unicast address: hop limit 64; a server message from port 547 is built by overriding', () => {
      const f = roundTrip(
        dhcpv6Datagram({ mac: MAC, src: GLOBAL, dst: PEER, dstMac: PEER_MAC, sport: 547, dport: 546, message: serverMessage('advertise', { mac: MAC }) }),
      );
      expect(f.ipv6!.hopLimit).to.equal(64);
      expect(f.udp).to.deep.equal({ srcPort: 547, dstPort: 546 });
      expect(findOption((f.dhcpv6 as ClientServerMessage).options, 'preference')?.value).to.equal(255);
    });

    it('client messages with several IA_PDs and a claimed DUID; raw bytes as payload', () => {
      const m = clientMessage('request', { mac: MAC, duid: PEER_MAC, iaPds: [1, 2] });
      expect(findOption(m.options, 'client-id')?.duid).to.deep.include({ linkLayerAddress: PEER_MAC });
      expect(findOptions(m.options, 'ia-pd')).to.have.length(2);
      const raw = buildFrame(dhcpv6Datagram({ mac: MAC, payload: Buffer.from([1, 2, 3]) }));
      expect(raw.subarray(-3).toString('hex')).to.equal('010203');
    });

    it('a Relay-Forward with option 37 (RFC 8415 §9.1, RFC 4649 §3)', () => {
      const f = roundTrip(
        dhcpv6Datagram({
          mac: MAC,
          message: relayForward({ linkAddress: '2001:db8:100::1', peerAddress: LINK_LOCAL, remoteId: PEER_MAC, message: solicit({ mac: PEER_MAC }) }),
        }),
      );
      const r = f.dhcpv6 as RelayMessage;
      expect(r).to.include({ type: 'relay-forward', hopCount: 0, peerAddress: LINK_LOCAL });
      expect(findOption(r.options, 'remote-id')).to.deep.equal({ type: 'remote-id', enterpriseNumber: 4491, remoteId: PEER_MAC });
      expect((findOption(r.options, 'relay-message')?.message as ClientServerMessage).type).to.equal('solicit');
    });
  });

  it('fragments: two fragments of one identification whose data is the original packet (RFC 8200 §4.5)', () => {
    const whole = routerAdvertisement({
      mac: MAC,
      prefixes: ['2001:db8:bad::/64'],
      extensions: [{ type: 'destination-options', options: [{ optionType: 1, data: Buffer.alloc(12) }] }],
    });
    const [first, second] = fragments(whole, { firstBytes: 16, identification: 0x53470002 });
    const a = decodeFrame(first);
    const b = decodeFrame(second);
    expect(a.extensions?.[0]).to.deep.include({ type: 'fragment', offset: 0, more: true, identification: 0x53470002 });
    expect(b.extensions?.[0]).to.deep.include({ type: 'fragment', offset: 2, more: false, identification: 0x53470002 });
    const original = buildFrame(whole).subarray(54);
    expect(Buffer.concat([first.subarray(62), second.subarray(62)]).equals(original), 'fragment data = the original payload').to.equal(true);
    expect(() => fragments(whole, { firstBytes: 12, identification: 1 })).to.throw(/multiple of 8/);
  });
});
