/**
 * One process serving 250 TAPs, as a synthetic-instance host does: all attached to one bridge in a
 * scratch namespace; once the bridge has learned each instance MAC, a frame addressed to it is
 * delivered to that TAP and to no other.
 */
import { expect } from 'chai';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { buildFrame } from '../../harness/packet/frame.ts';
import { ScratchNamespace } from '../support/netns.ts';
import { openTap, type TapDevice } from '../../harness/io/tap.ts';
import { closeTaps } from '../../harness/io/tap-bulk-close.ts';

const COUNT = 250;
const ETHERTYPE_TEST = 0x88b5; // IEEE local experimental: nothing in the kernel answers it
const macOf = (i: number) => `02:00:5e:20:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

function tagged(dst: string, src: string, tag: number): Buffer {
  const payload = Buffer.alloc(46);
  payload.writeUInt32BE(tag, 0);
  return buildFrame({ ethernet: { dst, src, etherType: ETHERTYPE_TEST }, payload });
}

describe('harness/io: 250 TAPs on one bridge in one process (real kernel)', function () {
  let ns: ScratchNamespace;
  const taps: TapDevice[] = [];

  before(async () => {
    ns = await ScratchNamespace.create('br', { quiet: true });
  });
  after(async () => {
    await closeTaps(taps.splice(0)); // one kernel batch instead of ~18 ms per TAP
    await ns?.delete();
  });

  it('each of 250 TAPs receives exactly the frame the bridge forwards to its instance MAC', async () => {
    await ns.ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0');
    for (let i = 0; i < COUNT; i++) taps.push(openTap(`vnet${i}`, { netns: ns.path }));
    const sender = openTap('vsrc', { netns: ns.path });
    taps.push(sender);
    const names = [...taps.map((t) => t.name)];
    await ns.ipBatch([...names.map((n) => `link set ${n} master br0`), ...names.map((n) => `link set ${n} up`), 'link set br0 up']);

    const received = new Map<number, number[]>(); // tap index → tags received
    taps.slice(0, COUNT).forEach((t, i) => {
      received.set(i, []);
      t.onFrames((frames) => {
        for (const f of frames) if (f.readUInt16BE(12) === ETHERTYPE_TEST) received.get(i)!.push(f.readUInt32BE(14));
      });
    });
    // Every instance speaks first (as a VM does), so the bridge learns its MAC on its port.
    taps.slice(0, COUNT).forEach((t, i) => expect(t.send(tagged('ff:ff:ff:ff:ff:ff', macOf(i), 0xffff0000 + i)), `vnet${i} send`).to.equal(true));
    await waitUntil(
      async () => {
        const { stdout } = await run(['bridge', '-n', ns.name, '-json', 'fdb', 'show', 'br', 'br0']);
        const learned = new Set((JSON.parse(stdout) as { mac: string }[]).map((e) => e.mac));
        return taps.slice(0, COUNT).every((_, i) => learned.has(macOf(i)));
      },
      { timeoutMs: 10_000, what: 'br0 to learn all 250 instance MACs' },
    );
    for (const r of received.values()) r.length = 0; // drop the broadcasts flooded while learning

    for (let i = 0; i < COUNT; i++) expect(sender.send(tagged(macOf(i), '02:00:5e:2f:ff:ff', i)), `send to vnet${i}`).to.equal(true);
    await waitUntil(() => [...received.values()].every((tags) => tags.length >= 1), {
      timeoutMs: 10_000,
      what: () =>
        `every TAP to receive its frame (missing: ${[...received]
          .filter(([, t]) => !t.length)
          .map(([i]) => `vnet${i}`)
          .slice(0, 10)
          .join(' ')})`,
    });
    for (const [i, tags] of received) expect(tags, `vnet${i} received`).to.deep.equal([i]);
    expect(taps.slice(0, COUNT).reduce((n, t) => n + t.counters.framesIn, 0)).to.be.at.least(COUNT);
  });
});
