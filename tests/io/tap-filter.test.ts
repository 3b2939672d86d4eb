/**
 * TapDevice.acceptOnly against the real tun driver (TUNSETTXFILTER), on a flooding bridge in a
 * scratch namespace: a filtered TAP gets frames to its listed unicast and multicast MACs and not
 * the flooded ones to other MACs — while an unfiltered TAP on the same bridge, in the same window,
 * gets them all, a capture on the filtered TAP sees them enter the device, and its tx_dropped
 * counts them; cleared, the filter lets everything through again.
 */
import { expect } from 'chai';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { buildFrame } from '../../harness/packet/frame.ts';
import { ScratchNamespace } from '../support/netns.ts';
import { openPacketSocket, type PacketSocket } from '../../harness/io/packet-socket.ts';
import { openTap, TAP_EXACT_FILTER_ENTRIES, type TapDevice } from '../../harness/io/tap.ts';

const ETHERTYPE_TEST = 0x88b5; // IEEE local experimental: nothing in the kernel answers it
const INSTANCE = '02:00:5e:30:00:aa';
const SENDER = '02:00:5e:30:ff:ff';
const ACCEPTED = [INSTANCE, 'ff:ff:ff:ff:ff:ff', '33:33:00:00:00:01', '33:33:ff:30:00:aa'];
// Another instance (unknown to the bridge: flooded), its solicited-node group, all DHCPv6 servers.
const OTHERS = ['02:00:5e:30:00:bb', '33:33:ff:30:00:bb', '33:33:00:01:00:02'];

function tagged(dst: string, tag: number): Buffer {
  const payload = Buffer.alloc(46);
  payload.writeUInt32BE(tag, 0);
  return buildFrame({ ethernet: { dst, src: SENDER, etherType: ETHERTYPE_TEST }, payload });
}

const dstOf = (f: Buffer) => [...f.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** Records the test tags a port receives (and, for a capture, the destinations of all frames). */
function collect(port: TapDevice | PacketSocket, dsts: string[] = []): number[] {
  const tags: number[] = [];
  port.onFrames((frames) => {
    for (const f of frames) {
      dsts.push(dstOf(f));
      if (f.readUInt16BE(12) === ETHERTYPE_TEST) tags.push(f.readUInt32BE(14));
    }
  });
  return tags;
}

describe('harness/io TAP destination-MAC filter (real kernel)', function () {
  let ns: ScratchNamespace;
  let filtered: TapDevice;
  let control: TapDevice;
  let sender: TapDevice;
  let got: number[];
  let controlGot: number[];
  let nextTag = 1;

  before(async () => {
    ns = await ScratchNamespace.create('flt', { quiet: true }); // no IPv6 chatter (IPv4's IGMP reports remain)
    await ns.ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0');
    filtered = openTap('vflt', { netns: ns.path });
    control = openTap('vctl', { netns: ns.path });
    sender = openTap('vsrc', { netns: ns.path });
    await ns.ipBatch([...['vflt', 'vctl', 'vsrc'].flatMap((n) => [`link set ${n} master br0`, `link set ${n} up`]), 'link set br0 up']);
    got = collect(filtered);
    controlGot = collect(control);
  });
  after(async () => {
    for (const t of [filtered, control, sender]) t?.close();
    await ns?.delete();
  });

  async function txDropped(dev: string): Promise<number> {
    const { stdout } = await run(['ip', '-n', ns.name, '-s', '-json', 'link', 'show', 'dev', dev]);
    return (JSON.parse(stdout) as { stats64: { tx: { dropped: number } } }[])[0]!.stats64.tx.dropped;
  }

  /**
   * Sends one frame to each destination, then a sentinel to the instance's own MAC, and waits until
   * both TAPs have the sentinel (the bridge delivers one port's frames in order, so by then every
   * earlier frame has either arrived or been dropped). Returns each destination's tag.
   */
  async function sendRound(dsts: string[]): Promise<{ tags: Map<string, number>; sentinel: number }> {
    got.length = 0;
    controlGot.length = 0;
    const tags = new Map<string, number>();
    for (const dst of dsts) {
      tags.set(dst, nextTag);
      expect(sender.send(tagged(dst, nextTag++)), `send to ${dst}`).to.equal(true);
    }
    const sentinel = nextTag++;
    expect(sender.send(tagged(INSTANCE, sentinel)), 'send the sentinel').to.equal(true);
    await waitUntil(() => got.includes(sentinel) && controlGot.includes(sentinel), {
      timeoutMs: 10_000,
      what: () => `the sentinel at vflt (${got.includes(sentinel)}) and vctl (${controlGot.includes(sentinel)})`,
    });
    return { tags, sentinel };
  }

  it('passes frames to the listed MACs only; the rest enter the device and are dropped there', async () => {
    // The capture sees what the bridge transmits on vflt before the tun driver filters it.
    const capture = openPacketSocket('vflt', { netns: ns.path });
    const capturedDsts: string[] = [];
    const captured = collect(capture, capturedDsts);
    try {
      filtered.acceptOnly(ACCEPTED);
      expect(filtered.accepting).to.deep.equal(ACCEPTED);
      const droppedBefore = await txDropped('vflt');

      const { tags, sentinel } = await sendRound([...ACCEPTED, ...OTHERS]);
      const want = (dsts: string[]) => [...dsts.map((d) => tags.get(d)!), sentinel];
      // Positive control, same window: the bridge flooded every one of them, to vctl and into vflt.
      expect(controlGot, 'unfiltered vctl').to.deep.equal(want([...ACCEPTED, ...OTHERS]));
      await waitUntil(() => captured.includes(sentinel), { timeoutMs: 10_000, what: 'the sentinel in the capture on vflt' });
      expect(captured, 'captured entering vflt').to.deep.equal(want([...ACCEPTED, ...OTHERS]));
      expect(got, 'read from the filtered vflt').to.deep.equal(want(ACCEPTED));

      // The counter: at least our frames to other MACs, at most those plus the kernel's own chatter
      // to unlisted MACs (IGMP reports) that the capture saw by the time a later sentinel came through.
      const dropped = (await txDropped('vflt')) - droppedBefore;
      const last = await sendRound([]);
      await waitUntil(() => captured.includes(last.sentinel), { timeoutMs: 10_000, what: 'the second sentinel in the capture on vflt' });
      const unlisted = capturedDsts.filter((d) => !ACCEPTED.includes(d)).length;
      expect(dropped, 'vflt tx_dropped (frames the filter stopped)').to.be.within(OTHERS.length, unlisted);
    } finally {
      capture.close();
    }
  });

  it('cleared with null or [], every frame arrives again', async () => {
    for (const clear of [null, []]) {
      filtered.acceptOnly(ACCEPTED);
      filtered.acceptOnly(clear);
      expect(filtered.accepting, `after acceptOnly(${JSON.stringify(clear)})`).to.equal(null);
      const { tags, sentinel } = await sendRound(OTHERS);
      expect(got, `vflt after acceptOnly(${JSON.stringify(clear)})`).to.deep.equal([...OTHERS.map((d) => tags.get(d)!), sentinel]);
    }
  });

  it('past 8 entries, further multicast groups still arrive (hashed) and unicast ones come first', async () => {
    const groups = Array.from({ length: 9 }, (_, i) => `33:33:ff:30:01:${i.toString(16).padStart(2, '0')}`);
    filtered.acceptOnly([...groups, INSTANCE]); // unicast listed last: must still be matched exactly
    expect(filtered.accepting![0]).to.equal(INSTANCE);
    const { tags, sentinel } = await sendRound([...groups, OTHERS[0]!]);
    expect(got).to.deep.equal([...groups.map((g) => tags.get(g)!), sentinel]);
    expect(controlGot).to.include(tags.get(OTHERS[0]!));
    filtered.acceptOnly(null);
  });

  it('refuses bad input in one line naming the device, and a closed TAP', () => {
    expect(() => filtered.acceptOnly(['02:00:5e:30:00:zz'])).to.throw(/^TAP vflt: acceptOnly: .*'02:00:5e:30:00:zz'/);
    const unicast = Array.from({ length: TAP_EXACT_FILTER_ENTRIES + 1 }, (_, i) => `02:00:5e:30:02:${i.toString(16).padStart(2, '0')}`);
    expect(() => filtered.acceptOnly(unicast)).to.throw(/^TAP vflt: acceptOnly: at most 8 unicast MACs .* got 9$/);
    expect(filtered.accepting, 'a refused list leaves the filter as it was').to.equal(null);
    const gone = openTap('vgone', { netns: ns.path });
    gone.close();
    expect(() => gone.acceptOnly([INSTANCE])).to.throw(/TAP vgone is closed/);
  });
});
