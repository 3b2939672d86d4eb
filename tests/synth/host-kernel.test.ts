/**
 * The emulated host's frames judged by a real kernel, in a namespace of the test's own: a bridge
 * with MLD snooping on (the pod's bridges have it off) learns the instance's solicited-node group
 * from its MLDv2 report, and a kernel on the same bridge resolves and pings its link-local — all
 * through the TAP's destination-MAC filter the host sets, which lets another node's DAD probe for
 * its address in and keeps a probe for someone else's out.
 */
import { expect } from 'chai';
import { openTap, type TapDevice } from '../../harness/io/tap.ts';
import { openPacketSocket } from '../../harness/io/packet-socket.ts';
import { buildFrame } from '../../harness/packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../../harness/packet/ethernet.ts';
import { macToBytes } from '../../harness/addr/bytes.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { SyntheticHost } from '../../harness/synth/host.ts';
import { multicastMac, solicitedNodeAddress } from '../../harness/addr/multicast.ts';
import type { FrameLink } from '../../harness/synth/link.ts';

const NS = `v6synth-kernel-${process.pid}`;
const MAC = '02:5f:00:00:01:01';
const LL = 'fe80::5f:ff:fe00:101';

/** The host's port as the daemon has it (harness/synth/tap-link.ts), filter included. */
function filteredLink(tap: TapDevice): FrameLink {
  return {
    name: tap.name,
    send: (f) => tap.send(f),
    onFrame: (h) => void tap.onFrames((frames) => frames.forEach(h)),
    acceptOnly: (macs) => void tap.acceptOnly(macs),
    close: () => tap.close(),
  };
}

/** A DAD probe (RFC 4862 §5.4.2): NS from :: to the target's solicited-node group. */
function dadProbe(srcMac: string, target: string): Buffer {
  const group = solicitedNodeAddress(target);
  return buildFrame({
    ethernet: { src: srcMac, dst: multicastMac(group), etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 255, src: '::', dst: group },
    icmpv6: { type: 'neighbor-solicitation', code: 0, target, options: [] },
  });
}

async function forwarding(port: string): Promise<void> {
  await waitUntil(async () => (await run(['cat', `/sys/class/net/${port}/brport/state`], { ns: NS })).stdout.trim() === '3', {
    timeoutMs: 5000,
    what: `${port} to forward in br0`,
  });
}

describe('synthetic host against a kernel bridge and peer', function () {
  this.timeout(30_000);
  let host: SyntheticHost | undefined;
  let link: FrameLink | undefined;

  before(async () => {
    await run(['ip', 'netns', 'add', NS]);
    const lines = [
      'link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 1',
      'link add peer0 type veth peer name peer1',
      'link set peer1 master br0',
      'link set br0 up',
      'link set peer1 up',
      'link set peer0 up',
    ];
    await run(['ip', '-n', NS, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    await run(['sysctl', '-q', '-w', 'net.ipv6.conf.br0.disable_ipv6=1', 'net.ipv6.conf.peer1.disable_ipv6=1'], { ns: NS });
    link = filteredLink(openTap('syn0', { netns: NS }));
    await run(['sysctl', '-q', '-w', 'net.ipv6.conf.syn0.disable_ipv6=1'], { ns: NS });
    await run(['ip', '-n', NS, 'link', 'set', 'syn0', 'master', 'br0', 'up']);
    await forwarding('syn0');
    host = new SyntheticHost(link, { name: 'syn', mac: MAC, dad: 'full' });
    host.start();
  });

  after(async () => {
    host?.stop();
    link?.close();
    await run(['ip', 'netns', 'del', NS], { allowFailure: true });
  });

  it('the snooping bridge learns its solicited-node group from its MLDv2 report', async () => {
    const group = solicitedNodeAddress(LL);
    await waitUntil(
      async () => {
        const out = await run(['bridge', '-j', 'mdb', 'show', 'dev', 'br0'], { ns: NS });
        const entries = (JSON.parse(out.stdout || '[]') as Array<{ mdb: Array<{ port: string; grp: string }> }>).flatMap((m) => m.mdb);
        return entries.some((e) => e.port === 'syn0' && e.grp === group);
      },
      { timeoutMs: 5000, what: `br0 to hold ${group} on syn0` },
    );
  });

  it('a kernel peer resolves its link-local and gets echo replies once DAD is done', async () => {
    await waitUntil(() => host!.snapshot().linkLocal.state === 'preferred', { timeoutMs: 5000, what: `${LL} to pass DAD` });
    // peer0's own link-local needs DAD too before it can send.
    await waitUntil(async () => !(await run(['ip', '-6', 'addr', 'show', 'dev', 'peer0', 'tentative'], { ns: NS })).stdout.trim(), {
      timeoutMs: 5000,
      what: 'peer0 to finish DAD',
    });
    const ping = await run(['ping', '-6', '-c1', '-W2', `${LL}%peer0`], { ns: NS, allowFailure: true });
    expect(ping.exitCode, ping.stdout + ping.stderr).to.equal(0);
    const neigh = await run(['ip', '-6', 'neigh', 'show', 'dev', 'peer0', LL], { ns: NS });
    expect(neigh.stdout).to.include(`lladdr ${MAC}`);
    expect(host!.snapshot().counters).to.include({ echoAnswered: 1, nsAnswered: 1 });
  });

  it('behind its TAP filter, a DAD probe for its tentative address arrives and one for another address does not', async () => {
    const mac2 = '02:5f:00:00:01:02';
    const ll2 = 'fe80::5f:ff:fe00:102';
    const foreign = 'fe80::5f:ff:fe00:2ff'; // another instance's address: another solicited-node group
    const prober = '02:5f:00:00:0f:0f';
    const tap = openTap('syn1', { netns: NS });
    const sender = openTap('src1', { netns: NS });
    const capture = openPacketSocket('syn1', { netns: NS }); // sees what the bridge transmits on syn1, before the filter
    const captured: Buffer[] = [];
    capture.onFrames((frames) => captured.push(...frames));
    const link2 = filteredLink(tap);
    const host2 = new SyntheticHost(link2, { name: 'syn2', mac: mac2, dad: 'full' });
    try {
      await run(['sysctl', '-q', '-w', 'net.ipv6.conf.syn1.disable_ipv6=1', 'net.ipv6.conf.src1.disable_ipv6=1'], { ns: NS });
      await run(['ip', '-n', NS, '-batch', '-'], { input: 'link set syn1 master br0 up\nlink set src1 master br0 up\n' });
      await Promise.all([forwarding('syn1'), forwarding('src1')]);
      host2.start(); // tentative for RetransTimer (1 s): the probes below land inside that window
      const dropsBefore = await txDropped('syn1');
      expect(sender.send(dadProbe(prober, foreign)), 'send the foreign probe').to.equal(true);
      expect(sender.send(dadProbe(prober, ll2)), 'send the probe for its address').to.equal(true);
      await waitUntil(() => host2.snapshot().linkLocal.state === 'duplicate', { timeoutMs: 900, what: `${ll2} to become duplicate on another node's probe` });
      const foreignGroup = macToBytes(multicastMac(solicitedNodeAddress(foreign)));
      await waitUntil(() => captured.some((f) => f.subarray(0, 6).equals(foreignGroup)), {
        timeoutMs: 5000,
        what: 'the foreign probe in the capture on syn1 (flooded to the port)',
      });
      // Sent first, the foreign probe would have been read before the one that made ll2 duplicate.
      expect(host2.snapshot().counters.notForUs, 'frames the host read that were not for it').to.equal(0);
      expect((await txDropped('syn1')) - dropsBefore, 'syn1 tx_dropped (stopped by the filter)').to.be.at.least(1);
    } finally {
      host2.stop();
      for (const p of [capture, sender, tap]) p.close();
    }
  });
});

async function txDropped(dev: string): Promise<number> {
  const { stdout } = await run(['ip', '-n', NS, '-s', '-json', 'link', 'show', 'dev', dev]);
  return (JSON.parse(stdout) as { stats64: { tx: { dropped: number } } }[])[0]!.stats64.tx.dropped;
}
