/** The checks every golden capture must pass: fixtures/golden/link.pcap, and a capture made now from the installed daemons. */
import { expect } from 'chai';
import { readPcap, type PcapRecord } from '../pcap.ts';
import { decodeFrame, buildFrame, type DecodedFrame } from '../frame.ts';
import { findOption, findOptions, innermostMessage, type Dhcpv6Message, type UnknownMessage } from '../dhcpv6.ts';
import type { Icmpv6Message } from '../icmpv6.ts';
import { linkLocalAddress, slaacAddress } from '../../addr/slaac.ts';

const CLIENT_MAC = '52:54:00:12:34:56';
const SERVER_MAC = '52:54:00:aa:00:01';
const POD_64 = '2001:db8:100::/64';
const RESERVED_PREFIX = '2001:db8:200:10::';

export function goldenSuite(title: string, load: () => string): void {
  describe(title, () => {
    let records: PcapRecord[] = [];
    let frames: DecodedFrame[] = [];
    before(function () {
      records = readPcap(load()).records;
      frames = records.map((r) => decodeFrame(r.data));
    });

    function icmp<T extends Icmpv6Message['type']>(type: T): Array<{ frame: DecodedFrame; msg: Extract<Icmpv6Message, { type: T }> }> {
      return frames.filter((f) => f.icmpv6?.type === type).map((f) => ({ frame: f, msg: f.icmpv6 as Extract<Icmpv6Message, { type: T }> }));
    }
    /** DHCPv6 messages of one (known) type, with their options. */
    function dhcp(type: Exclude<Dhcpv6Message['type'], 'unknown'>): Array<{ frame: DecodedFrame; msg: Exclude<Dhcpv6Message, UnknownMessage> }> {
      return frames.filter((f) => f.dhcpv6?.type === type).map((f) => ({ frame: f, msg: f.dhcpv6 as Exclude<Dhcpv6Message, UnknownMessage> }));
    }
    function delegated(msg: Dhcpv6Message): Array<{ prefix: string; length: number; valid: number }> {
      if (!('options' in msg)) return [];
      return findOptions(msg.options, 'ia-pd').flatMap((pd) =>
        findOptions(pd.options, 'iaprefix').map((p) => ({ prefix: p.prefix, length: p.prefixLength, valid: p.validLifetime })),
      );
    }

    it('holds every exchange the capture script drives', () => {
      expect(frames.length).to.be.greaterThan(30);
    });

    it('every frame verifies its checksum and re-encodes byte for byte', () => {
      frames.forEach((f, i) => {
        expect(f.checksumStatus?.valid, `frame ${i + 1} checksum`).to.equal(true);
        expect(buildFrame(f).equals(records[i]!.data), `frame ${i + 1} re-encoding`).to.equal(true);
      });
    });

    describe('the kernel (RFC 4861, 4862, 3810)', () => {
      it('joins its groups with MLDv2 reports carrying a Router Alert hop-by-hop option', () => {
        const reports = icmp('mld2-report').filter((r) => r.frame.ethernet.src === CLIENT_MAC);
        expect(reports).to.have.length.greaterThan(0);
        for (const { frame } of reports) {
          expect(frame.ipv6!.hopLimit).to.equal(1);
          expect(frame.extensions?.[0]).to.include({ type: 'hop-by-hop' });
          expect((frame.extensions![0] as { options: Array<{ optionType: number }> }).options.map((o) => o.optionType)).to.include(5);
        }
      });

      it('runs DAD for its EUI-64 link-local and SLAAC address from ::, with a nonce', () => {
        const dad = icmp('neighbor-solicitation').filter((n) => n.frame.ipv6!.src === '::' && n.frame.ethernet.src === CLIENT_MAC);
        const targets = dad.map((n) => n.msg.target);
        expect(targets).to.include(linkLocalAddress(CLIENT_MAC));
        expect(targets).to.include(slaacAddress(POD_64, CLIENT_MAC));
        for (const n of dad) expect(n.msg.options.map((o) => o.type)).to.include('nonce');
      });

      it('solicits routers from its link-local with its MAC as source link-layer address', () => {
        const rs = icmp('router-solicitation').filter((r) => r.frame.ethernet.src === CLIENT_MAC);
        expect(rs).to.have.length.greaterThan(0);
        expect(rs[0]!.frame.ipv6).to.include({ src: linkLocalAddress(CLIENT_MAC), dst: 'ff02::2', hopLimit: 255 });
        expect(rs[0]!.msg.options).to.deep.include({ type: 'source-link-layer-address', address: CLIENT_MAC });
      });

      it('answers NS for its SLAAC address (pod /64 + modified EUI-64) with a solicited, override NA', () => {
        const na = icmp('neighbor-advertisement').find((n) => n.frame.ethernet.src === CLIENT_MAC && n.msg.target === slaacAddress(POD_64, CLIENT_MAC));
        expect(na, 'NA for the SLAAC address').to.not.equal(undefined);
        expect(na!.msg).to.include({ solicited: true, override: true, router: false });
      });
    });

    describe('radvd (RFC 4861 §4.2)', () => {
      it('advertises the pod /64 with L=1 A=1, M=0 O=1, RDNSS and MTU from its link-local', () => {
        const ras = icmp('router-advertisement');
        expect(ras).to.have.length.greaterThan(0);
        for (const { frame, msg } of ras) {
          expect(frame.ipv6).to.include({ src: linkLocalAddress(SERVER_MAC), hopLimit: 255 });
          expect(msg).to.include({ managed: false, other: true });
          expect(msg.routerLifetime).to.be.greaterThan(0);
          const pio = msg.options.find((o) => o.type === 'prefix-information');
          expect(pio).to.include({ prefix: '2001:db8:100::', prefixLength: 64, onLink: true, autonomous: true });
          expect(msg.options).to.deep.include({ type: 'source-link-layer-address', address: SERVER_MAC });
          expect(msg.options).to.deep.include({ type: 'mtu', mtu: 1500 });
          expect(msg.options.find((o) => o.type === 'rdnss')).to.deep.include({ servers: ['2001:db8:100::53'] });
        }
      });
    });

    describe('dhcp6c with the seed configuration and Kea (RFC 8415)', () => {
      it('the Solicit asks for IA_PD 1 and IA_NA 0 and requests DNS servers and domain list', () => {
        const [solicit] = dhcp('solicit');
        const opts = solicit!.msg.options;
        expect(findOption(opts, 'ia-pd')).to.include({ iaid: 1 });
        expect(findOption(opts, 'ia-na')).to.include({ iaid: 0 });
        expect(findOption(opts, 'oro')!.requested).to.include.members([23, 24]);
        expect(findOption(opts, 'client-id')!.duid).to.include({ type: 'llt', linkLayerAddress: CLIENT_MAC });
      });

      it('Kea advertises and replies with the /60 reserved for the MAC, Preference 255', () => {
        const [advertise] = dhcp('advertise');
        expect(findOption(advertise!.msg.options, 'preference')).to.deep.equal({ type: 'preference', value: 255 });
        expect(delegated(advertise!.msg)).to.deep.equal([{ prefix: RESERVED_PREFIX, length: 60, valid: 4000 }]);
        const [reply] = dhcp('reply');
        expect(delegated(reply!.msg)).to.deep.equal([{ prefix: RESERVED_PREFIX, length: 60, valid: 4000 }]);
      });

      it('dhcp6c releases the prefix on SIGTERM and Kea confirms with Success', () => {
        const releases = dhcp('release');
        expect(releases.flatMap((r) => delegated(r.msg)).map((d) => d.prefix)).to.include(RESERVED_PREFIX);
        const last = dhcp('reply').at(-1)!;
        expect(findOption(last.msg.options, 'status-code')).to.include({ code: 0 });
      });
    });

    describe('a relay with option 37 and Kea (RFC 8415 §19, RFC 4649)', () => {
      it('Kea matches the reservation by the remote-id MAC although the DUID belongs to another MAC', () => {
        const [forward] = dhcp('relay-forward');
        expect(findOption(forward!.msg.options, 'remote-id')).to.deep.equal({ type: 'remote-id', enterpriseNumber: 4491, remoteId: CLIENT_MAC });
        const [reply] = dhcp('relay-reply');
        const inner = innermostMessage(reply!.frame.dhcpv6!)!;
        expect(inner.type).to.equal('advertise');
        expect(delegated(inner)).to.deep.equal([{ prefix: RESERVED_PREFIX, length: 60, valid: 4000 }]);
        expect(findOption(reply!.msg.options, 'interface-id'), 'Interface-Id echoed').to.not.equal(undefined);
      });
    });
  });
}
