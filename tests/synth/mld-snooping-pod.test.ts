/**
 * MLD snooping in a real pod (pod.mldSnooping): the ToR's querier, the hypervisors' snooping
 * bridges and the synthetic instances' MLDv2 reports together keep multicast to the ports that
 * need it. With snooping on, a Neighbor Solicitation for one instance's solicited-node group
 * reaches that instance's port and no other, and an instance's DHCPv6 message to ff02::1:2 reaches
 * both routers and no other instance; with snooping off (the same pod otherwise) both floods reach
 * every port, which is what the negative checks would see if snooping failed.
 *
 * Each negative is proved behind a control (docs/architecture.md's drop proof): a frame the port
 * must receive, sent after the one it must not; the port's capture reads frames in order, so once
 * the control is in, the other would be too.
 */
import { expect } from 'chai';
import { parsePodFile } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { namespaceName, uniqueRunName } from '../../harness/pod/names.ts';
import { BRIDGES, INFRA, type InstancePlan, type Plan } from '../../harness/pod/plan.ts';
import { openPacketSocket, type PacketSocket } from '../../harness/io/packet-socket.ts';
import { buildFrame } from '../../harness/packet/frame.ts';
import { mldQuery } from '../../harness/packet/builders.ts';
import { ETHERTYPE_IPV6 } from '../../harness/packet/ethernet.ts';
import { macToBytes } from '../../harness/addr/bytes.ts';
import { multicastMac, solicitedNodeAddress } from '../../harness/addr/multicast.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC, ALL_NODES, ALL_NODES_MAC } from '../../harness/packet/constants.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { synthCommand, synthPaths } from '../../netns/daemons/synth.ts';
import type { HostSnapshot } from '../../harness/synth/host.ts';

const WAIT_MS = 10_000;

function podText(snooping: boolean): string {
  return `name: mld
pod:
  l2Prefix: 2001:db8:100::/64
  pdPool: 2001:db8:200::/40
  mldSnooping: ${snooping}
hypervisors:
  - name: hv1
    instances:
      - { name: a, kind: synthetic, count: 2 }
  - name: hv2
    instances:
      - { name: b, kind: synthetic, count: 1 }
`;
}

/** Every frame a port sends or receives, from now on (a TAP's capture sees what the bridge hands it, before the TAP's own filter). */
class PortCapture {
  readonly frames: Buffer[] = [];
  private readonly socket: PacketSocket;

  constructor(
    readonly where: string,
    ns: string,
    port: string,
  ) {
    // ETH_P_ALL: only such sockets see what the kernel transmits on a port (dev_queue_xmit_nit).
    this.socket = openPacketSocket(port, { netns: ns });
    this.socket.onFrames((frames) => this.frames.push(...frames));
  }

  /** Index of the first frame `match` accepts, or -1. */
  indexOf(match: (f: Buffer) => boolean): number {
    return this.frames.findIndex(match);
  }

  async waitFor(match: (f: Buffer) => boolean, what: string): Promise<number> {
    await waitUntil(() => this.indexOf(match) >= 0, { timeoutMs: WAIT_MS, what: `${what} on ${this.where}` });
    return this.indexOf(match);
  }

  close(): void {
    this.socket.close();
  }
}

/** An NS from r1's link-local for `target`, to its solicited-node group, told apart by `marker` (its nonce). */
function neighborSolicitation(plan: Plan, target: string, marker: number): Buffer {
  const r1 = plan.routers[0]!;
  const group = solicitedNodeAddress(target);
  return buildFrame({
    ethernet: { src: r1.mac, dst: multicastMac(group), etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 255, src: r1.linkLocal, dst: group },
    icmpv6: {
      type: 'neighbor-solicitation',
      code: 0,
      target,
      options: [
        { type: 'source-link-layer-address', address: r1.mac },
        { type: 'nonce', nonce: Buffer.from([0x6d, 0x6c, 0x64, 0, 0, marker]) },
      ],
    },
  });
}

/** An MLD general query from r1 (RFC 3810 §5.1: hop limit 1, Router Alert) asking for answers at once (Maximum Response Code 0). */
function generalQuery(plan: Plan): Buffer {
  const r1 = plan.routers[0]!;
  return buildFrame(mldQuery({ mac: r1.mac, src: r1.linkLocal }));
}

/** An MLD report (MLDv1 131 or MLDv2 143, behind the hop-by-hop header) from `mac`. */
const mldReportFrom = (mac: string) => (f: Buffer) =>
  f.length > 62 && f.subarray(6, 12).equals(macToBytes(mac)) && f[20] === 0 && (f[62] === 131 || f[62] === 143);

/** An Echo Request from r1 to all nodes (never snooped: every port gets it), told apart by its identifier. */
function allNodesControl(plan: Plan, marker: number): Buffer {
  const r1 = plan.routers[0]!;
  return buildFrame({
    ethernet: { src: r1.mac, dst: ALL_NODES_MAC, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src: r1.linkLocal, dst: ALL_NODES },
    icmpv6: { type: 'echo-request', code: 0, identifier: 0x6d6c, sequence: marker, data: Buffer.alloc(0) },
  });
}

const endsWithNonce = (marker: number) => (f: Buffer) => f.includes(Buffer.from([0x6d, 0x6c, 0x64, 0, 0, marker]));
const isControl = (marker: number) => (f: Buffer) =>
  f.length >= 62 && f[20] === 58 && f[54] === 128 && f.readUInt16BE(58) === 0x6d6c && f.readUInt16BE(60) === marker;
/** A DHCPv6 client message (UDP 546 → 547) to ff02::1:2 from `mac`. */
const dhcpFrom = (mac: string) => (f: Buffer) =>
  f.subarray(0, 6).equals(macToBytes(ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC)) &&
  f.subarray(6, 12).equals(macToBytes(mac)) &&
  f[20] === 17 &&
  f.readUInt16BE(54) === 546 &&
  f.readUInt16BE(56) === 547;

for (const snooping of [true, false]) {
  describe(`MLD snooping ${snooping ? 'on' : 'off'} in a real pod (pod.mldSnooping: ${snooping})`, function () {
    this.timeout(180_000);
    const runName = uniqueRunName(snooping ? 'mldon' : 'mldoff');
    let plan: Plan;
    let a1: InstancePlan, a2: InstancePlan, b1: InstancePlan;
    const captures: PortCapture[] = [];
    let r1Lan: PacketSocket;

    const capture = (where: string, node: string, port: string) => {
      const c = new PortCapture(where, namespaceName(runName, node), port);
      captures.push(c);
      return c;
    };

    before(async function () {
      // No security groups: they drop other instances' DHCPv6 messages at a port, and what is
      // proved here is what the switches hand each port.
      ({ plan } = await up(parsePodFile(podText(snooping), 'mld.yaml'), runName, { podFile: 'mld.yaml', owner: process.pid, securityGroups: false }));
      [a1, a2, b1] = ['a-1', 'a-2', 'b-1'].map((n) => plan.instances.find((i) => i.name === n)!) as [InstancePlan, InstancePlan, InstancePlan];
      r1Lan = openPacketSocket('lan', { netns: plan.routers[0]!.ns, protocol: 'ipv6' });
    });

    after(async function () {
      for (const c of captures) c.close();
      r1Lan?.close();
      await teardownRun(runName);
    });

    it(`the switches are set as the pod says: snooping ${snooping ? 'on, the ToR querying from a link-local' : 'off'}`, async () => {
      const options = async (node: string, bridge: string) => {
        const { stdout } = await run(['ip', '-d', '-j', 'link', 'show', 'dev', bridge], { ns: namespaceName(runName, node) });
        return (JSON.parse(stdout) as Array<{ linkinfo: { info_data: Record<string, number> } }>)[0]!.linkinfo.info_data;
      };
      expect((await options('tor', BRIDGES.tor)).mcast_snooping).to.equal(snooping ? 1 : 0);
      expect((await options('tor', BRIDGES.tor)).mcast_querier).to.equal(snooping ? 1 : 0);
      expect((await options('hv1', BRIDGES.hypervisor)).mcast_snooping).to.equal(snooping ? 1 : 0);
      const { stdout } = await run(['ip', '-6', '-j', 'addr', 'show', 'dev', BRIDGES.tor], { ns: namespaceName(runName, 'tor') });
      const torAddresses = (JSON.parse(stdout) as Array<{ addr_info: Array<{ local: string }> }>).flatMap((l) => l.addr_info.map((a) => a.local));
      expect(torAddresses, "the ToR's own addresses").to.deep.equal(snooping ? [INFRA.torQuerier] : []);
    });

    if (snooping)
      it("the hypervisors learn each instance's solicited-node group on its port and the ToR's uplink as their router port", async () => {
        const ns = namespaceName(runName, 'hv1');
        let seen = '';
        await waitUntil(
          async () => {
            seen = (await run(['bridge', '-d', 'mdb', 'show', 'dev', BRIDGES.hypervisor], { ns })).stdout;
            return (
              [a1, a2].every((i) => seen.includes(`port ${i.port} grp ${solicitedNodeAddress(i.linkLocal)}`)) && /router ports on cloudbr0: .*uplink/.test(seen)
            );
          },
          { timeoutMs: WAIT_MS, what: () => `hv1's group table to hold a-1 and a-2 on their ports and uplink as router port:\n${seen}` },
        );
      });

    /** Sends an NS for a-1's group and a control after it; where the NS went, of a-1, a-2 and b-1. */
    async function solicitA1(marker: number): Promise<{ a2: boolean; b1: boolean }> {
      const onA1 = capture('hv1:a-1', 'hv1', a1.port);
      const others = [capture('hv1:a-2', 'hv1', a2.port), capture('hv2:b-1', 'hv2', b1.port)];
      expect(r1Lan.send(neighborSolicitation(plan, a1.linkLocal, marker)), 'r1 sends the NS').to.not.equal(false);
      expect(r1Lan.send(allNodesControl(plan, marker)), 'r1 sends the control').to.not.equal(false);
      await onA1.waitFor(endsWithNonce(marker), `the NS ${marker} for a-1's group`);
      const [toA2, toB1] = await Promise.all(
        others.map(async (other) => {
          const control = await other.waitFor(isControl(marker), `the all-nodes control ${marker} sent after the NS`);
          const at = other.indexOf(endsWithNonce(marker));
          if (at > control) expect.fail(`the NS ${marker} arrived on ${other.where} after its control: the proof's order does not hold`);
          return at >= 0;
        }),
      );
      return { a2: toA2!, b1: toB1! };
    }

    if (snooping)
      it('snooping takes effect within seconds of up: a bridge that first hears a querier floods for its response interval, 1 s', async () => {
        let marker = 10;
        await waitUntil(async () => Object.values(await solicitA1(marker++)).every((flooded) => !flooded), {
          timeoutMs: 15_000,
          what: "an NS for a-1's group to reach only a-1",
        });
      });

    it(`an NS for a-1's group reaches a-1's port ${snooping ? 'and neither a-2 nor b-1' : 'and, flooded, a-2 and b-1 too'}`, async () => {
      expect(await solicitA1(1), 'where the NS went besides a-1').to.deep.equal(snooping ? { a2: false, b1: false } : { a2: true, b1: true });
    });

    it(`a-1's MLD report reaches both routers ${snooping ? 'and no other instance (MLDv1: to the router ports only)' : 'and, flooded, the other instances'}`, async () => {
      const r2 = new PortCapture('r2:lan', plan.routers[1]!.ns, 'lan');
      captures.push(r2);
      const others = [capture('hv1:a-2', 'hv1', a2.port), capture('hv2:b-1', 'hv2', b1.port)];
      expect(r1Lan.send(generalQuery(plan)), 'r1 sends a general query').to.not.equal(false);
      // r1 does not capture its own sends; r2 sees a-1's answer arrive from the ToR.
      await r2.waitFor(mldReportFrom(a1.mac), "a-1's report answering the query");
      expect(r1Lan.send(allNodesControl(plan, 3)), 'r1 sends the control').to.not.equal(false);
      for (const other of others) {
        const control = await other.waitFor(isControl(3), "the all-nodes control sent after r2 saw a-1's report");
        const report = other.indexOf(mldReportFrom(a1.mac));
        if (snooping) expect(report, `a-1's report on ${other.where} (before the control at ${control})`).to.equal(-1);
        else expect(report, `a-1's report, flooded to ${other.where} before the control`).to.be.within(0, control);
      }
    });

    it(`a DHCPv6 message of a-1's to ff02::1:2 reaches both routers ${snooping ? 'and no other instance' : 'and, flooded, the other instances'}`, async () => {
      const routers = plan.routers.map((r) => {
        const c = new PortCapture(`${r.name}:lan`, r.ns, 'lan');
        captures.push(c);
        return c;
      });
      const onA2 = capture('hv1:a-2', 'hv1', a2.port);
      const onB1 = capture('hv2:b-1', 'hv2', b1.port);
      // A Renew (RFC 8415 §18.2.4) goes to ff02::1:2 like a Solicit, at a moment the test picks,
      // once a-1 holds its prefix (`up` waits for addresses and routes, not for delegation).
      const socket = synthPaths(runName, 'hv1').socket;
      let state = '';
      await waitUntil(
        async () => {
          const snap = (await synthCommand(socket, 'state', { name: a1.name })).arguments?.instances as HostSnapshot[] | undefined;
          state = snap?.[0]?.dhcp?.state ?? 'no client';
          return state === 'bound';
        },
        { timeoutMs: WAIT_MS, what: () => `a-1's PD client to be bound (${state})` },
      );
      const answer = await synthCommand(socket, 'renew', { name: a1.name });
      expect(answer.result, answer.text).to.equal(0);
      for (const r of routers) await r.waitFor(dhcpFrom(a1.mac), "a-1's Renew to ff02::1:2");
      expect(r1Lan.send(allNodesControl(plan, 2)), 'r1 sends the control').to.not.equal(false);
      for (const other of [onA2, onB1]) {
        const control = await other.waitFor(isControl(2), 'the all-nodes control sent after r1 saw the Renew');
        const renew = other.indexOf(dhcpFrom(a1.mac));
        if (snooping) expect(renew, `a-1's Renew on ${other.where} (before the control at ${control})`).to.equal(-1);
        else expect(renew, `a-1's Renew, flooded to ${other.where} before the control`).to.be.within(0, control);
      }
    });
  });
}
