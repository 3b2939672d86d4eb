/**
 * The emulated host's frames judged by a real kernel, in a namespace of the test's own: a bridge
 * with MLD snooping on (the pod's bridges have it off) learns the instance's solicited-node group
 * from its MLDv2 report, and a kernel on the same bridge resolves and pings its link-local.
 */
import { expect } from 'chai';
import { openTap } from '../io/tap.ts';
import { run } from '../../netns/exec.ts';
import { waitUntil } from '../../netns/wait.ts';
import { SyntheticHost } from './host.ts';
import { solicitedNodeAddress } from './multicast.ts';
import type { FrameLink } from './link.ts';

const NS = `v6synth-kernel-${process.pid}`;
const MAC = '02:5f:00:00:01:01';
const LL = 'fe80::5f:ff:fe00:101';

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
    const tap = openTap('syn0', { netns: NS });
    link = {
      name: 'syn0',
      send: (f) => tap.send(f),
      onFrame: (h) => void tap.onFrames((frames) => frames.forEach(h)),
      close: () => tap.close(),
    };
    await run(['sysctl', '-q', '-w', 'net.ipv6.conf.syn0.disable_ipv6=1'], { ns: NS });
    await run(['ip', '-n', NS, 'link', 'set', 'syn0', 'master', 'br0', 'up']);
    await waitUntil(async () => (await run(['cat', '/sys/class/net/syn0/brport/state'], { ns: NS })).stdout.trim() === '3', { timeoutMs: 5000, what: 'syn0 to forward in br0' });
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
    await waitUntil(async () => !(await run(['ip', '-6', 'addr', 'show', 'dev', 'peer0', 'tentative'], { ns: NS })).stdout.trim(), { timeoutMs: 5000, what: 'peer0 to finish DAD' });
    const ping = await run(['ping', '-6', '-c1', '-W2', `${LL}%peer0`], { ns: NS, allowFailure: true });
    expect(ping.exitCode, ping.stdout + ping.stderr).to.equal(0);
    const neigh = await run(['ip', '-6', 'neigh', 'show', 'dev', 'peer0', LL], { ns: NS });
    expect(neigh.stdout).to.include(`lladdr ${MAC}`);
    expect(host!.snapshot().counters).to.include({ echoAnswered: 1, nsAnswered: 1 });
  });
});
