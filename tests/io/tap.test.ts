/**
 * TAP devices against the real kernel, in scratch namespaces only: where the device appears and
 * when it vanishes, both directions of traffic (the kernel's ND and Echo Reply come back through
 * the TAP), reads on the main loop while libuv's thread pool is saturated, clear errors on bad input.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../../harness/os/wait.ts';
import { ETHERTYPE_IPV6 } from '../../harness/packet/ethernet.ts';
import { buildFrame, type DecodedFrame } from '../../harness/packet/frame.ts';
import { FrameWaiter } from '../support/frame-waiter.ts';
import { rootHasLink, ScratchNamespace } from '../support/netns.ts';
import { openPacketSocket } from '../../harness/io/packet-socket.ts';
import { openTap, type TapDevice } from '../../harness/io/tap.ts';

const OUR_MAC = '02:00:5e:10:00:aa';
const OUR_IP = '2001:db8:1::aa';
const KERNEL_IP = '2001:db8:1::1';

function echoRequest(kernelMac: string, sequence: number): Buffer {
  return buildFrame({
    ethernet: { dst: kernelMac, src: OUR_MAC, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: OUR_IP, dst: KERNEL_IP },
    icmpv6: { type: 'echo-request', code: 0, identifier: 0x6f10, sequence, data: Buffer.from(`v6pio ${sequence}`) },
  });
}

const isEchoReply = (sequence: number) => (f: DecodedFrame) =>
  f.icmpv6?.type === 'echo-reply' && f.icmpv6.sequence === sequence && f.ipv6?.dst === OUR_IP && f.ethernet.dst === OUR_MAC;

/** Brings the TAP up as the kernel's side of a link with KERNEL_IP/64 (no DAD, no autoconf noise); returns its MAC. */
async function kernelSide(ns: ScratchNamespace, tap: string): Promise<string> {
  await ns.sysctl(`net.ipv6.conf.${tap}.accept_ra`, '0');
  await ns.ip('addr', 'add', `${KERNEL_IP}/64`, 'dev', tap, 'nodad');
  await ns.ip('link', 'set', tap, 'up');
  // The kernel answers only once it routes the /64 out of the TAP (addrconf may finish after `up` returns).
  await waitUntil(async () => (await ns.ip('-6', 'route', 'show', `${KERNEL_IP}/64`, 'dev', tap)).stdout.trim() !== '', {
    timeoutMs: 5000,
    what: `the kernel's route to ${KERNEL_IP}/64 via ${tap}`,
  });
  return ns.macOf(tap);
}

const threadNs = () => readlinkSync('/proc/thread-self/ns/net');

describe('harness/io TAP devices (real kernel)', function () {
  let ns: ScratchNamespace;
  const open: TapDevice[] = [];

  before(async () => {
    ns = await ScratchNamespace.create('tap');
  });
  afterEach(() => {
    for (const t of open.splice(0)) t.close();
  });
  after(async () => {
    await ns?.delete();
  });

  it('creates the TAP in the given namespace (not the root one), returns to our namespace, and the device vanishes on close', async () => {
    const before = threadNs();
    const tap = openTap('v6pioA', { netns: ns.path });
    open.push(tap);
    expect(threadNs(), 'the main thread is back in its own namespace').to.equal(before);
    expect(tap.name).to.equal('v6pioA');
    expect(await ns.hasLink('v6pioA'), 'in the test namespace').to.equal(true);
    expect(await rootHasLink('v6pioA'), 'in the root namespace').to.equal(false);
    const { stdout } = await ns.ip('-json', 'link', 'show', 'dev', 'v6pioA');
    expect((JSON.parse(stdout) as { ifindex: number }[])[0]!.ifindex).to.equal(tap.ifindex);

    tap.close();
    expect(tap.closed).to.equal(true);
    tap.close(); // idempotent
    await waitUntil(async () => !(await ns.hasLink('v6pioA')), { timeoutMs: 5000, what: 'v6pioA to vanish after close()' });
    expect(() => tap.send(Buffer.alloc(60))).to.throw(/TAP v6pioA is closed/);
  });

  it('a child process spawned while the TAP is open does not keep the device alive (the fd is close-on-exec)', async () => {
    const tap = openTap('v6pioK', { netns: ns.path });
    open.push(tap);
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      tap.close();
      await waitUntil(async () => !(await ns.hasLink('v6pioK')), { timeoutMs: 5000, what: 'v6pioK to vanish on close while a child process lives' });
    } finally {
      child.kill();
    }
  });

  it('takes a bare namespace name as /run/netns/<name>', async () => {
    const tap = openTap('v6pioN', { netns: ns.name });
    open.push(tap);
    expect(await ns.hasLink('v6pioN')).to.equal(true);
  });

  it('carries both directions: the kernel resolves our made-up address by NS through the TAP, we answer NA, and its Echo Reply comes back', async () => {
    const tap = openTap('v6pioB', { netns: ns.path });
    open.push(tap);
    const waiter = new FrameWaiter(tap);
    const kernelMac = await kernelSide(ns, 'v6pioB');

    expect(tap.send(echoRequest(kernelMac, 1))).to.equal(true);
    const ns1 = await waiter.next((f) => f.icmpv6?.type === 'neighbor-solicitation' && f.icmpv6.target === OUR_IP, `the kernel's NS for ${OUR_IP}`);
    expect(ns1.ethernet.src).to.equal(kernelMac);

    const na = buildFrame({
      ethernet: { dst: kernelMac, src: OUR_MAC, etherType: ETHERTYPE_IPV6 },
      ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 255, src: OUR_IP, dst: ns1.ipv6!.src },
      icmpv6: {
        type: 'neighbor-advertisement',
        code: 0,
        router: false,
        solicited: true,
        override: true,
        reserved: 0,
        target: OUR_IP,
        options: [{ type: 'target-link-layer-address', address: OUR_MAC }],
      },
    });
    expect(tap.send(na)).to.equal(true);
    const reply = await waiter.next(isEchoReply(1), `the kernel's Echo Reply to ${OUR_IP}`);
    expect(reply.ipv6!.src).to.equal(KERNEL_IP);
    expect(reply.icmpv6).to.deep.include({ identifier: 0x6f10, data: Buffer.from('v6pio 1') });

    const c = tap.counters;
    expect(c.framesOut).to.equal(2);
    expect(c.framesIn).to.be.at.least(2);
    expect(c.dropsOut).to.equal(0);
  });

  it('keeps receiving while all 4 libuv pool threads are busy, and a 10 ms interval keeps running (reads are on the main loop)', async function () {
    const tap = openTap('v6pioC', { netns: ns.path });
    open.push(tap);
    const waiter = new FrameWaiter(tap);
    const kernelMac = await kernelSide(ns, 'v6pioC');
    await ns.ip('neigh', 'replace', OUR_IP, 'lladdr', OUR_MAC, 'dev', 'v6pioC', 'nud', 'permanent');

    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    let busyDone = 0;
    const busy = Array.from(
      { length: poolSize },
      () => new Promise<void>((resolve) => pbkdf2('v6pio', 'salt', 1_500_000, 64, 'sha512', () => resolve(void busyDone++))),
    );
    // Positive control: a trivial pool job queued behind them finishes only when a pool thread frees up.
    let controlDone = false;
    const control = new Promise<void>((resolve) => pbkdf2('x', 'y', 1, 16, 'sha256', () => resolve(void (controlDone = true))));

    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    try {
      for (let seq = 100; seq < 120; seq++) {
        expect(tap.send(echoRequest(kernelMac, seq))).to.equal(true);
        await waiter.next(isEchoReply(seq), `Echo Reply ${seq} while the thread pool is busy`);
      }
      expect(controlDone, 'the thread pool was saturated during the whole exchange').to.equal(false);
      expect(busyDone).to.equal(0);
      const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
      expect(ticks.length, 'interval ticks during the exchange').to.be.at.least(1);
      // Generous bound: 2 shared cores; a blocked loop would show gaps of seconds (the pbkdf2 jobs' length).
      expect(Math.max(0, ...gaps), 'largest gap between 10 ms ticks (ms)').to.be.below(500);
    } finally {
      clearInterval(timer);
      await Promise.all([...busy, control]);
    }
  });

  it('reports a device deleted under a polled TAP once to onError; close() still works', async () => {
    const tap = openTap('v6pioL', { netns: ns.path });
    open.push(tap);
    const errors: string[] = [];
    tap.onError((e) => errors.push(e.message)).onFrames(() => undefined);
    await ns.ip('link', 'del', 'v6pioL');
    await waitUntil(() => errors.length > 0, { timeoutMs: 5000, what: 'an error for the deleted TAP' });
    expect(errors).to.deep.equal(['TAP v6pioL: the device is gone (deleted while open)']);
    tap.close();
    expect(tap.closed).to.equal(true);
  });

  it('pause() holds frames in the kernel until onFrames() resumes delivery', async () => {
    const tap = openTap('v6pioP', { netns: ns.path });
    open.push(tap);
    await ns.ip('link', 'set', 'v6pioP', 'up');
    const injector = openPacketSocket('v6pioP', { netns: ns.path });
    const got: number[] = [];
    const handler = (frames: Buffer[]) => got.push(...frames.filter((f) => f.readUInt16BE(12) === 0x88b5).map((f) => f.readUInt32BE(14)));
    tap.onFrames(handler).pause();
    const tag = (n: number) =>
      Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), Buffer.from([0x88, 0xb5]), Buffer.from([0, 0, 0, n]), Buffer.alloc(42)]);
    try {
      expect(injector.send(tag(1))).to.equal(true);
      // Positive control in the same window: an unpaused TAP's traffic is delivered meanwhile.
      const other = openTap('v6pioQ', { netns: ns.path });
      open.push(other);
      await ns.ip('link', 'set', 'v6pioQ', 'up');
      const otherInjector = openPacketSocket('v6pioQ', { netns: ns.path });
      const otherGot: number[] = [];
      other.onFrames((frames) => otherGot.push(...frames.filter((f) => f.readUInt16BE(12) === 0x88b5).map((f) => f.readUInt32BE(14))));
      expect(otherInjector.send(tag(2))).to.equal(true);
      await waitUntil(() => otherGot.includes(2), { timeoutMs: 5000, what: 'the unpaused TAP to deliver' });
      otherInjector.close();
      expect(got, 'delivered while paused').to.deep.equal([]);
      tap.onFrames(handler);
      await waitUntil(() => got.includes(1), { timeoutMs: 5000, what: 'the held frame after resuming' });
    } finally {
      injector.close();
    }
  });

  it('refuses a taken name with EBUSY and leaves the first device alone', async () => {
    const tap = openTap('v6pioD', { netns: ns.path });
    open.push(tap);
    expect(() => openTap('v6pioD', { netns: ns.path })).to.throw(/openTap v6pioD: the name is taken: Device or resource busy/);
    try {
      openTap('v6pioD', { netns: ns.path });
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).to.equal('EBUSY');
    }
    expect(await ns.hasLink('v6pioD')).to.equal(true);
  });

  it('counts a frame sent while the TAP is down as a drop (send returns false), and sends once it is up', async () => {
    const tap = openTap('v6pioF', { netns: ns.path });
    open.push(tap);
    const frame = buildFrame({ ethernet: { dst: 'ff:ff:ff:ff:ff:ff', src: OUR_MAC, etherType: 0x88b5 }, payload: Buffer.alloc(46) });
    expect(tap.send(frame), 'send while down').to.equal(false);
    await ns.ip('link', 'set', 'v6pioF', 'up');
    expect(tap.send(frame), 'send while up').to.equal(true);
    expect(tap.counters).to.include({ framesOut: 1, dropsOut: 1 });
  });

  it('rejects a 16-character name and a missing namespace with one clear line, creating nothing and staying in our namespace', async () => {
    const before = threadNs();
    expect(() => openTap('v6pio-1234567890', { netns: ns.path })).to.throw(
      /^openTap: name: 'v6pio-1234567890' is 16 bytes; Linux interface names are at most 15$/,
    );
    expect(() => openTap('a/b', { netns: ns.path })).to.throw(/openTap: name: 'a\/b' may not/);
    const missing = `/run/netns/v6pio-${process.pid}-nonexistent`;
    expect(() => openTap('v6pioE', { netns: missing })).to.throw(`openTap v6pioE: netns ${missing}: No such file or directory`);
    expect(threadNs()).to.equal(before);
    expect(await rootHasLink('v6pioE')).to.equal(false);
    expect(await ns.hasLink('v6pioE')).to.equal(false);
    const { stdout } = await ns.ip('-json', 'link', 'show');
    expect((JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname)).to.not.include.members(['v6pio-1234567890', 'v6pioE']);
  });

  it('a polled TAP nobody references survives garbage collection and keeps delivering; an unpolled one is closed by it', async () => {
    const script = [
      `import { execFileSync } from 'node:child_process';`,
      `import { openTap } from ${JSON.stringify(fileURLToPath(new URL('../../harness/io/tap.ts', import.meta.url)))};`,
      `import { openPacketSocket } from ${JSON.stringify(fileURLToPath(new URL('../../harness/io/packet-socket.ts', import.meta.url)))};`,
      `const netns = ${JSON.stringify(ns.path)};`,
      `const has = (n) => { try { execFileSync('ip', ['-n', ${JSON.stringify(ns.name)}, 'link', 'show', 'dev', n], { stdio: 'ignore' }); return true; } catch { return false; } };`,
      // Only the injected frame (EtherType 0x88b5) counts: the kernel may send its own (MLD, DAD) out of the TAP once it is up.
      `(() => { openTap('v6pioG', { netns }).onFrames((frames) => { const ours = frames.filter((f) => f.readUInt16BE(12) === 0x88b5).length; if (ours) { console.log('delivered ' + ours); process.exit(0); } }); openTap('v6pioH', { netns }); })();`,
      `const collect = async () => { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };`,
      `await collect();`,
      `for (let i = 0; has('v6pioH'); i++) { if (i > 100) { console.log('unpolled TAP not collected'); process.exit(1); } await collect(); }`,
      `console.log('unpolled closed by GC');`,
      `execFileSync('ip', ['-n', ${JSON.stringify(ns.name)}, 'link', 'set', 'v6pioG', 'up']);`,
      `const inj = openPacketSocket('v6pioG', { netns }); await collect();`,
      `inj.send(Buffer.concat([Buffer.from('02000000000102000000000288b5', 'hex'), Buffer.alloc(46)]));`,
      `setTimeout(() => { console.log('no delivery'); process.exit(1); }, 5000);`,
    ].join('\n');
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect({ code, out: out.trim() }).to.deep.equal({ code: 0, out: 'unpolled closed by GC\ndelivered 1' });
  });

  it('a process that exits with open, polled TAPs (and one closed twice) exits cleanly and leaves no device', async () => {
    const tapModule = fileURLToPath(new URL('../../harness/io/tap.ts', import.meta.url));
    const script = [
      `import { openTap } from ${JSON.stringify(tapModule)};`,
      `const a = openTap('v6pioX1', { netns: ${JSON.stringify(ns.path)} }); a.onFrames(() => {});`,
      `const b = openTap('v6pioX2', { netns: ${JSON.stringify(ns.path)} }); b.onFrames(() => {}); b.close(); b.close();`,
      `openTap('v6pioX3', { netns: ${JSON.stringify(ns.path)} });`,
      `console.log('opened'); setTimeout(() => process.exit(0), 50);`,
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    expect({ code, signal, out: out.trim() }).to.deep.equal({ code: 0, signal: null, out: 'opened' });
    for (const name of ['v6pioX1', 'v6pioX2', 'v6pioX3']) {
      await waitUntil(async () => !(await ns.hasLink(name)), { timeoutMs: 5000, what: `${name} to vanish with its process` });
    }
  });
});
