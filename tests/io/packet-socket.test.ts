/**
 * AF_PACKET sockets against the real kernel, on a veth pair between two scratch namespaces (IPv6
 * off, so the only frames are ours): fanout groups split a flow between members without loss or
 * duplication, ignoreOutgoing hides what the host sends, BPF filters and the protocol option select
 * in the kernel, and bad input fails with one clear line.
 */
import { expect } from 'chai';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { ETHERTYPE_IPV6 } from '../../harness/packet/ethernet.ts';
import { buildFrame } from '../../harness/packet/frame.ts';
import { ScratchNamespace } from '../support/netns.ts';
import { openPacketSocket, parseTcpdumpDd, type PacketSocket, type PacketSocketOptions } from '../../harness/io/packet-socket.ts';

const ETHERTYPE_TEST = 0x88b5;
const ETHERTYPE_OTHER = 0x88b6;
const SRC = '02:00:5e:30:00:0b';
const DST = '02:00:5e:30:00:0a';

function tagged(tag: number, etherType = ETHERTYPE_TEST): Buffer {
  const payload = Buffer.alloc(46);
  payload.writeUInt32BE(tag, 0);
  return buildFrame({ ethernet: { dst: DST, src: SRC, etherType }, payload });
}

/** An IPv6/UDP frame of flow `flow` (its source port), so fanout hash can tell flows apart. */
function flowFrame(flow: number, seq: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(flow, 0);
  payload.writeUInt32BE(seq, 4);
  return buildFrame({
    ethernet: { dst: DST, src: SRC, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: '2001:db8:2::b', dst: '2001:db8:2::a' },
    udp: { srcPort: 20000 + flow, dstPort: 9 },
    payload,
  });
}

/** Records the tag (first 4 payload bytes after the Ethernet header, or the UDP payload) of each frame a socket gets. */
function recorder(sock: PacketSocket, etherType: number): number[][] {
  const got: number[][] = [];
  sock.onFrames((frames) => {
    for (const f of frames) {
      if (f.readUInt16BE(12) !== etherType) continue;
      got.push(etherType === ETHERTYPE_IPV6 ? [f.readUInt32BE(62), f.readUInt32BE(66)] : [f.readUInt32BE(14)]);
    }
  });
  return got;
}

describe('harness/io packet sockets (real kernel)', function () {
  let a: ScratchNamespace;
  let b: ScratchNamespace;
  let filter: PacketSocketOptions['filter'];
  const open: PacketSocket[] = [];
  const sock = (ifname: string, opts: PacketSocketOptions) => {
    const s = openPacketSocket(ifname, opts);
    open.push(s);
    return s;
  };
  const group = (n: number) => ((process.pid & 0xfff) << 4) | n; // fanout groups are per namespace; unique anyway

  before(async () => {
    a = await ScratchNamespace.create('pa', { quiet: true });
    b = await ScratchNamespace.create('pb', { quiet: true });
    await a.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name);
    await a.ip('link', 'set', 'va', 'up');
    await b.ip('link', 'set', 'vb', 'up');
    filter = parseTcpdumpDd((await run(['tcpdump', '-dd', 'ether', 'proto', String(ETHERTYPE_TEST)])).stdout);
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  after(async () => {
    await a?.delete();
    await b?.delete();
  });

  it('two sockets in one lb fanout group each get part of a flow, together all of it exactly once', async () => {
    const r1 = sock('va', { netns: a.path, fanout: { group: group(1), mode: 'lb' }, filter });
    const r2 = sock('va', { netns: a.path, fanout: { group: group(1), mode: 'lb' }, filter });
    const got1 = recorder(r1, ETHERTYPE_TEST);
    const got2 = recorder(r2, ETHERTYPE_TEST);
    const sender = sock('vb', { netns: b.path });
    const N = 200;
    for (let i = 0; i < N; i++) expect(sender.send(tagged(i))).to.equal(true);
    await waitUntil(() => got1.length + got2.length >= N, {
      timeoutMs: 10_000,
      what: () => `${N} frames across the group (have ${got1.length}+${got2.length})`,
    });
    expect(got1.length, 'member 1 share').to.be.above(0);
    expect(got2.length, 'member 2 share').to.be.above(0);
    const all = [...got1, ...got2].map(([t]) => t!).sort((x, y) => x - y);
    expect(all).to.deep.equal(Array.from({ length: N }, (_, i) => i));
    expect(r1.counters.framesIn + r2.counters.framesIn).to.equal(N);
    expect(r1.kernelStatistics().packets + r2.kernelStatistics().packets).to.equal(N);
  });

  it('hash fanout keeps each flow on one member and spreads flows over both', async () => {
    const r1 = sock('va', { netns: a.path, protocol: 'ipv6', fanout: { group: group(2), mode: 'hash' } });
    const r2 = sock('va', { netns: a.path, protocol: 'ipv6', fanout: { group: group(2), mode: 'hash' } });
    const got1 = recorder(r1, ETHERTYPE_IPV6);
    const got2 = recorder(r2, ETHERTYPE_IPV6);
    const sender = sock('vb', { netns: b.path });
    const FLOWS = 31; // odd: round robin (lb) would split every flow, only hashing keeps them whole
    const PER_FLOW = 5;
    for (let s = 0; s < PER_FLOW; s++) for (let f = 0; f < FLOWS; f++) expect(sender.send(flowFrame(f, s))).to.equal(true);
    await waitUntil(() => got1.length + got2.length >= FLOWS * PER_FLOW, {
      timeoutMs: 10_000,
      what: () => `${FLOWS * PER_FLOW} frames across the group (have ${got1.length}+${got2.length})`,
    });
    const flows1 = new Set(got1.map(([f]) => f));
    const flows2 = new Set(got2.map(([f]) => f));
    expect(flows1.size, 'flows on member 1').to.be.above(0);
    expect(flows2.size, 'flows on member 2').to.be.above(0);
    expect(
      [...flows1].filter((f) => flows2.has(f)),
      'flows split across members',
    ).to.deep.equal([]);
    expect(flows1.size + flows2.size).to.equal(FLOWS);
    expect(got1.length + got2.length).to.equal(FLOWS * PER_FLOW);
  });

  it('ignoreOutgoing hides the frames the host sends on the interface, still delivering what it receives', async () => {
    const quiet = sock('vb', { netns: b.path, ignoreOutgoing: true, filter });
    const control = sock('vb', { netns: b.path, filter }); // positive control: sees both directions
    const gotQuiet = recorder(quiet, ETHERTYPE_TEST);
    const gotControl = recorder(control, ETHERTYPE_TEST);
    const fromB = sock('vb', { netns: b.path });
    const fromA = sock('va', { netns: a.path });
    for (let i = 0; i < 20; i++) {
      expect(fromB.send(tagged(1000 + i))).to.equal(true); // outgoing on vb
      expect(fromA.send(tagged(2000 + i))).to.equal(true); // incoming on vb
    }
    await waitUntil(() => gotControl.length >= 40, { timeoutMs: 10_000, what: () => `the control socket to see 40 frames (has ${gotControl.length})` });
    // A last incoming marker: once the quiet socket has it, everything queued before it has been read.
    expect(fromA.send(tagged(9999))).to.equal(true);
    await waitUntil(() => gotQuiet.some(([t]) => t === 9999), { timeoutMs: 10_000, what: 'the marker frame on the ignoreOutgoing socket' });
    const tags = gotQuiet.map(([t]) => t!);
    expect(
      tags.filter((t) => t >= 1000 && t < 2000),
      'outgoing frames seen by the ignoreOutgoing socket',
    ).to.deep.equal([]);
    expect(tags.filter((t) => t >= 2000 && t < 3000)).to.have.length(20);
    expect(
      gotControl.filter(([t]) => t! >= 1000 && t! < 2000),
      'outgoing frames seen by the control',
    ).to.have.length(20);
  });

  it('a BPF filter and the protocol option select frames in the kernel (an unfiltered socket sees them all)', async () => {
    const filtered = sock('va', { netns: a.path, filter });
    const ipv6Only = sock('va', { netns: a.path, protocol: 'ipv6' });
    const all = sock('va', { netns: a.path });
    const seen = new Map<PacketSocket, number[]>([
      [filtered, []],
      [ipv6Only, []],
      [all, []],
    ]);
    for (const [s, types] of seen) s.onFrames((frames) => types.push(...frames.map((f) => f.readUInt16BE(12))));
    const sender = sock('vb', { netns: b.path });
    expect(sender.send(tagged(1, ETHERTYPE_OTHER))).to.equal(true);
    expect(sender.send(flowFrame(0, 0))).to.equal(true);
    expect(sender.send(tagged(2, ETHERTYPE_TEST))).to.equal(true);
    await waitUntil(() => seen.get(all)!.length >= 3 && seen.get(filtered)!.includes(ETHERTYPE_TEST) && seen.get(ipv6Only)!.length >= 1, {
      timeoutMs: 10_000,
      what: 'the three sockets to see their frames',
    });
    expect(seen.get(all)).to.deep.equal([ETHERTYPE_OTHER, ETHERTYPE_IPV6, ETHERTYPE_TEST]);
    expect(seen.get(filtered)).to.deep.equal([ETHERTYPE_TEST]);
    expect(seen.get(ipv6Only)).to.deep.equal([ETHERTYPE_IPV6]);
  });

  it('keeps capturing across an interface flap (down, up) without an error', async () => {
    await a.ip('link', 'add', 'vfa', 'type', 'veth', 'peer', 'name', 'vfb', 'netns', b.name);
    await a.ip('link', 'set', 'vfa', 'up');
    await b.ip('link', 'set', 'vfb', 'up');
    const capture = sock('vfa', { netns: a.path, filter });
    const errors: string[] = [];
    capture.onError((e) => errors.push(e.message));
    const got = recorder(capture, ETHERTYPE_TEST);
    const sender = sock('vfb', { netns: b.path });
    expect(sender.send(tagged(1))).to.equal(true);
    await waitUntil(() => got.length === 1, { timeoutMs: 5000, what: 'frame 1 before the flap' });
    await a.ip('link', 'set', 'vfa', 'down');
    await a.ip('link', 'set', 'vfa', 'up');
    await waitUntil(async () => (await a.ip('-json', 'link', 'show', 'vfa')).stdout.includes('"operstate":"UP"'), {
      timeoutMs: 5000,
      what: 'vfa to come back up',
    });
    expect(sender.send(tagged(2))).to.equal(true);
    await waitUntil(() => got.length === 2, { timeoutMs: 5000, what: 'frame 2 after the flap' });
    expect(errors, 'errors across the flap').to.deep.equal([]);
    await a.ip('link', 'del', 'vfa');
  });

  it('bad input fails with one clear line', () => {
    expect(() => openPacketSocket('nosuch0', { netns: a.path })).to.throw(`openPacketSocket nosuch0: no such interface in ${a.path}: No such device`);
    expect(() => openPacketSocket('va', { netns: `/run/netns/v6pio-${process.pid}-none` })).to.throw(
      /openPacketSocket va: netns \/run\/netns\/v6pio-\d+-none: No such file or directory/,
    );
    expect(() => openPacketSocket('va', { netns: a.path, fanout: { group: 1, mode: 'rr' as 'lb' } })).to.throw(/fanout.mode must be hash, lb or cpu/);
    expect(() => openPacketSocket('va', { netns: a.path, fanout: { group: 70000, mode: 'lb' } })).to.throw(/fanout.group must be 0..65535/);
    expect(() => openPacketSocket('va', { netns: a.path, filter: [[0x6, 0, 0, -1]] })).to.throw(/filter\[0\] must be/);
    expect(() => openPacketSocket('va', { netns: a.path, protocol: 0x10000 })).to.throw(/protocol must be/);
    expect(() => parseTcpdumpDd('{ 0x28, 0, 0 }')).to.throw(/tcpdump -dd line 1/);
    // A second socket joining with another mode: the kernel refuses (EINVAL), nothing leaks.
    sock('va', { netns: a.path, fanout: { group: group(3), mode: 'lb' } });
    expect(() => openPacketSocket('va', { netns: a.path, fanout: { group: group(3), mode: 'hash' } })).to.throw(/PACKET_FANOUT group \d+: Invalid argument/);
  });
});
