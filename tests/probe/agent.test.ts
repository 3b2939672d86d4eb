/**
 * The probe agent in two namespaces of its own joined by a veth: A injects codec-built frames, B
 * captures them with BPF filters. Needs root (namespaces, libpcap). The namespaces carry the v6pod
 * prefix so `v6pod down --all` sweeps them if this test dies before `after`.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ipJson, run } from '../../harness/os/exec.ts';
import { buildFrame, decodeFrame, type Frame } from '../../harness/packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../../harness/packet/ethernet.ts';
import { readPcap } from '../../harness/packet/pcap.ts';
import { Capture, ProbeAgent, type CapturedFrame } from '../../harness/probe/agent-client.ts';

const suffix = randomBytes(3).toString('hex');
const NS_A = `v6p-tprobe${suffix}.a`;
const NS_B = `v6p-tprobe${suffix}.b`;
const ADDR_A = 'fd00:7e57::a';
const ADDR_B = 'fd00:7e57::b';
/** Locally administered MACs no kernel here owns: frames from/to them are only ever the test's. */
const FAKE_SRC = '02:76:36:70:00:01';
const FAKE_DST = '02:76:36:70:00:02';
const WAIT_MS = 5000;

describe('probe agent (inject and capture in namespaces)', function () {
  let macA: string;
  let macB: string;
  let dir: string;
  let a: ProbeAgent;
  let b: ProbeAgent;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    await run(['ip', 'netns', 'add', NS_A]);
    await run(['ip', 'netns', 'add', NS_B]);
    await run(['ip', '-n', NS_A, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_B]);
    for (const [ns, addr] of [
      [NS_A, ADDR_A],
      [NS_B, ADDR_B],
    ] as const) {
      // With segmentation offloads on, libpcap gives every frame a 128 KiB ring slot: a 16 MiB ring
      // then holds ~128 frames, too few for a burst of 1,000 while the agent is not scheduled.
      await run(['ethtool', '-K', 'eth0', 'tso', 'off', 'gso', 'off'], { ns });
      await run(['ip', '-n', ns, 'addr', 'add', `${addr}/64`, 'dev', 'eth0', 'nodad']);
      await run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    const mac = async (ns: string) => (await ipJson<Array<{ address: string }>>(ns, ['link', 'show', 'eth0']))[0]!.address;
    [macA, macB] = [await mac(NS_A), await mac(NS_B)];
    dir = mkdtempSync(join(tmpdir(), 'v6pod-probe-'));
    [a, b] = await Promise.all([ProbeAgent.start(NS_A), ProbeAgent.start(NS_B)]);
  });

  after(async function () {
    await Promise.all([a?.close(), b?.close(), ProbeAgent.closeShared()]);
    for (const ns of [NS_A, NS_B]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const echoRequest = (): Frame => ({
    ethernet: { dst: macB, src: macA, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: ADDR_A, dst: ADDR_B },
    icmpv6: { type: 'echo-request', code: 0, identifier: 0x7e57, sequence: 1, data: Buffer.from('v6pod probe agent') },
  });
  const routerSolicitation = (): Frame => ({
    ethernet: { dst: '33:33:00:00:00:02', src: FAKE_SRC, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 255, src: 'fe80::76:36ff:fe70:1', dst: 'ff02::2' },
    icmpv6: { type: 'router-solicitation', code: 0, options: [{ type: 'source-link-layer-address', address: FAKE_SRC }] },
  });
  const icmpType = (f: CapturedFrame) => f.frame.icmpv6?.type;

  describe('captures with BPF filters', function () {
    let echoCap: Capture;
    let rsCap: Capture;
    let replyCap: Capture;
    const sent: { echo?: Buffer; rs?: Buffer } = {};

    before(async function () {
      echoCap = await b.capture('eth0', 'icmp6 and ip6[40] == 128', join(dir, 'echo.pcap'));
      rsCap = await b.capture('eth0', `icmp6 and ip6[40] == 133 and ether src ${FAKE_SRC}`, join(dir, 'rs.pcap'));
      replyCap = await b.capture('eth0', 'icmp6 and ip6[40] == 129', join(dir, 'reply.pcap'));
      sent.echo = buildFrame(echoRequest());
      sent.rs = buildFrame(routerSolicitation());
      // Buffers and Frames both inject; the echo goes first, so a filter that admitted it would hold it before the RS.
      await a.inject('eth0', sent.echo!);
      await a.inject('eth0', routerSolicitation());
    });

    it('a matching filter sees exactly the injected frame, byte for byte', async function () {
      const echo = await echoCap.waitFor((fs) => fs.find((f) => icmpType(f) === 'echo-request'), WAIT_MS, 'the injected echo request');
      expect(echo.data.equals(sent.echo!), 'echo request bytes at B').to.equal(true);
      const rs = await rsCap.waitFor((fs) => fs[0], WAIT_MS, 'the injected router solicitation');
      expect(rs.data.equals(sent.rs!), 'RS bytes at B').to.equal(true);
      expect(rs.frame).to.deep.include({ icmpv6: routerSolicitation().icmpv6 });
    });

    it('a non-matching filter does not see it', async function () {
      // The RS left A after the echo request on the same link: once it is here, the echo would be too.
      await rsCap.waitFor((fs) => fs.length > 0, WAIT_MS, 'the router solicitation');
      expect(rsCap.frames().map(icmpType)).to.deep.equal(['router-solicitation']);
      await replyCap.waitFor((fs) => fs.length > 0, WAIT_MS, 'the echo reply');
      expect(replyCap.frames().map(icmpType), 'the reply capture holds no request').to.not.include('echo-request');
    });

    it("B's kernel answers the echo, and B's capture sees the reply leaving", async function () {
      const reply = await replyCap.waitFor((fs) => fs.find((f) => icmpType(f) === 'echo-reply'), WAIT_MS, "B's echo reply");
      expect(reply.frame.ethernet.src).to.equal(macB);
      expect(reply.frame.ipv6).to.include({ src: ADDR_B, dst: ADDR_A });
      expect(reply.frame.icmpv6).to.include({ identifier: 0x7e57, sequence: 1 });
      expect(echoCap.frames(), 'only the injected request crossed the link').to.have.length(1);
    });

    it('the pcap the agent wrote decodes to the same frames', async function () {
      await Promise.all([echoCap.stop(), rsCap.stop(), replyCap.stop()]);
      for (const cap of [echoCap, rsCap, replyCap]) {
        const { linkType, records } = readPcap(cap.file);
        expect(linkType).to.equal(1);
        expect(
          records.map((r) => r.data.toString('hex')),
          cap.file,
        ).to.deep.equal(cap.frames().map((f) => f.data.toString('hex')));
        expect(records.map((r) => r.timestampUs)).to.deep.equal(cap.frames().map((f) => f.timestampUs));
        expect(records.map((r) => decodeFrame(r.data))).to.deep.equal(cap.frames().map((f) => f.frame));
      }
    });
  });

  it('refuses a bad filter or interface with a clear error and keeps serving', async function () {
    await b.capture('eth0', 'ip6 and and', join(dir, 'bad.pcap')).then(
      () => expect.fail('a bad filter was accepted'),
      (err: Error) => expect(err.message).to.match(/capture-start.*ip6 and and/),
    );
    await a.inject('nosuch0', routerSolicitation()).then(
      () => expect.fail('an unknown interface was accepted'),
      (err: Error) => expect(err.message).to.match(/nosuch0/),
    );
    await Promise.all([a.ping(), b.ping()]);
  });

  it('runs the DHCPv6 client: a bad script or an address it cannot bind is an error answer, never a crash', async function () {
    await b.request('dhcp', { script: { iface: 'eth0' } }).then(
      () => expect.fail('a script without steps was accepted'),
      (err: Error) => expect(err.message).to.match(/script/),
    );
    // Not an address of B's: the bind fails (EADDRNOTAVAIL), and the agent answers so.
    const script = { iface: 'eth0', linkLocal: 'fe80::dead:beef', duid: '02:00:00:00:00:01', iaids: [1], steps: [{ op: 'acquire' as const }], timeoutMs: 200 };
    await b.dhcp(script).then(
      () => expect.fail('a client bound to an address B does not hold'),
      (err: Error) => expect(err.message).to.match(/EADDRNOTAVAIL|bind/),
    );
    await b.ping();
  });

  it('answers bad JSON and unknown commands with error lines and keeps serving', async function () {
    const agent = fileURLToPath(new URL('../../harness/probe/agent.ts', import.meta.url));
    const child = spawn('ip', ['netns', 'exec', NS_A, process.execPath, '--import', import.meta.resolve('tsx'), agent], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const next = async (): Promise<Record<string, unknown>> => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no line from the agent within 10 s')), 10_000)));
        const { value } = await Promise.race([lines.next(), timeout]).finally(() => clearTimeout(timer));
        return JSON.parse(value as string) as Record<string, unknown>;
      };
      expect(await next()).to.include({ event: 'ready' });
      const ask = async (line: string) => (child.stdin.write(`${line}\n`), next());
      expect(await ask('{not json'))
        .to.include({ id: null })
        .and.to.have.property('error')
        .that.matches(/bad request line/);
      expect(await ask('[1, 2]'))
        .to.have.property('error')
        .that.matches(/not a JSON object/);
      expect(await ask('{"id": 1, "cmd": "launch"}'))
        .to.include({ id: 1 })
        .and.to.have.property('error')
        .that.matches(/unknown command "launch"/);
      expect(await ask('{"id": 2, "cmd": "inject", "iface": "eth0", "frame": "00"}'))
        .to.have.property('error')
        .that.matches(/not open/);
      expect(await ask('{"id": 3, "cmd": "open"}'))
        .to.have.property('error')
        .that.matches(/'iface'/);
      expect(await ask('{"id": 4, "cmd": "open", "iface": "eth0"}')).to.deep.equal({ id: 4, ok: true });
      expect(await ask('{"id": 5, "cmd": "inject", "iface": "eth0", "frame": "xyz"}'))
        .to.have.property('error')
        .that.matches(/hex/);
      expect(await ask('{"id": 6, "cmd": "capture-stop", "capture": "c9"}'))
        .to.have.property('error')
        .that.matches(/no capture/);
      expect(await ask('{"id": "p", "cmd": "ping"}')).to.deep.equal({ id: 'p', ok: true });
      const exited = new Promise((r) => child.once('exit', r));
      expect(await ask('{"id": 7, "cmd": "exit"}')).to.deep.equal({ id: 7, ok: true });
      expect(await exited).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("Capture.start takes Capture.start's arguments and shares one agent per namespace", async function () {
    const file = join(dir, 'drop-in.pcap');
    const [first, second] = await Promise.all([Capture.start(NS_B, 'eth0', file), ProbeAgent.in(NS_B)]);
    expect(await ProbeAgent.in(NS_B)).to.equal(second);
    await a.inject('eth0', routerSolicitation());
    const rs = await first.waitFor((fs) => fs.find((f) => icmpType(f) === 'router-solicitation' && f.frame.ethernet.src === FAKE_SRC), WAIT_MS, 'the RS');
    expect(rs.frame.ipv6!.dst).to.equal('ff02::2');
    await first.stop();
    await ProbeAgent.closeShared();
    expect(readPcap(file).records.map((r) => r.data.toString('hex'))).to.include(rs.data.toString('hex'));
  });

  it('survives many captures started and stopped (no libpcap handle is ever freed under it)', async function () {
    for (let i = 0; i < 100; i++) {
      const cap = await b.capture('eth0', 'udp dst port 7', join(dir, 'cycle.pcap'));
      await cap.stop();
    }
    await b.ping();
  });

  it('delivers 1,000 frames injected back to back', async function () {
    const COUNT = 1000;
    const frames = Array.from({ length: COUNT }, (_, i) => {
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(i);
      return buildFrame({
        ethernet: { dst: FAKE_DST, src: FAKE_SRC, etherType: ETHERTYPE_IPV6 },
        ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: ADDR_A, dst: 'fd00:7e57::99' },
        udp: { srcPort: 40000, dstPort: 9 },
        payload,
      });
    });
    const cap = await b.capture('eth0', `ether src ${FAKE_SRC} and udp dst port 9`, join(dir, 'burst.pcap'));
    await a.open('eth0');
    const t0 = performance.now();
    await Promise.all(frames.map((f) => a.inject('eth0', f)));
    const injectedMs = performance.now() - t0;
    await cap
      .waitFor((fs) => fs.length >= COUNT, 20_000, `${COUNT} frames`)
      .catch((err: Error) => {
        throw new Error(`${err.message}; ${cap.frames().length} arrived`);
      });
    const arrivedMs = performance.now() - t0;
    await cap.stop();
    const seq = cap.frames().map((f) => f.frame.payload!.readUInt32BE(0));
    expect(new Set(seq).size, 'distinct frames at B').to.equal(COUNT);
    expect(readPcap(cap.file).records).to.have.length(COUNT);
    console.log(
      `      ${COUNT} frames injected in ${injectedMs.toFixed(0)} ms (${Math.round((COUNT / injectedMs) * 1000)} frames/s), ` +
        `all captured at B after ${arrivedMs.toFixed(0)} ms (${Math.round((COUNT / arrivedMs) * 1000)} frames/s end to end)`,
    );
  });
});
