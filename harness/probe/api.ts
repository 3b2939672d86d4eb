/**
 * The scenario API, reading like the seed: `vm('vm1').solicitRouters()`,
 * `vm('vm3').requestPrefixes({ iaPds: 2 })`, `expectRoute(router('r1'), prefix, { via })`,
 * `expectDropped(frame, { from: 'vm1', notBeyond: 'hv1:uplink', control })`. Every verdict is
 * proved with captured packets kept under the run's artifacts.
 */
import { expect } from 'chai';
import { artifactPath, currentPod, currentScenario } from './pod-context.ts';
import { ProbeAgent, type CapturedFrame } from './agent-client.ts';
import { dhcpClient, relayRoutes, type ClientOptions } from './dhcp.ts';
import { instance, sendFrom } from './instance.ts';
import { namespaceName } from '../pod/names.ts';
import type { InstancePlan, RouterPlan } from '../pod/plan.ts';
import { buildFrame, type Frame } from '../packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import type { RouterAdvertisement } from '../packet/icmpv6.ts';
import type { DhcpClientResult } from './dhcp-client.ts';
import { WaitTimeout } from '../os/wait.ts';
import { bridgeTablePresent, chainsOf } from '../sg/nft-driver.ts';
import { ruleCounters } from '../sg/nft-inspect.ts';

let captures = 0;
/** A pcap path in the artifacts named after the scenario being run (the report attaches files by ID prefix). */
function evidence(label: string): string {
  return artifactPath(`${currentScenario() ?? 'scenario'}-${label}-${++captures}.pcap`);
}

export interface SolicitedRa {
  router: RouterPlan;
  /** Time from the RS leaving the instance to this router's RA arriving. */
  delayMs: number;
  ra: RouterAdvertisement;
  frame: CapturedFrame;
}

export interface VmHandle {
  plan: InstancePlan;
  /** Sends one RS (built with the codecs) from eth0 and returns every router's RA to it, with its delay. */
  solicitRouters(timeoutMs?: number): Promise<SolicitedRa[]>;
  /** A DHCPv6 exchange through the relays with the codec client (default: acquire one IA_PD). */
  requestPrefixes(opts?: ClientOptions): Promise<DhcpClientResult>;
}

export function vm(name: string): VmHandle {
  const plan = instance(name);
  return {
    plan,
    async solicitRouters(timeoutMs = 2000) {
      const routers = currentPod().routers;
      const agent = await ProbeAgent.in(plan.ns);
      const capture = await agent.capture('eth0', 'icmp6', evidence(`${name}-rs`));
      try {
        const rs: Frame = {
          ethernet: { src: plan.mac, dst: '33:33:00:00:00:02', etherType: ETHERTYPE_IPV6 },
          ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 255, src: plan.linkLocal, dst: 'ff02::2' },
          icmpv6: { type: 'router-solicitation', code: 0, options: [{ type: 'source-link-layer-address', address: plan.mac }] },
        };
        await agent.inject('eth0', buildFrame(rs));
        return await capture.waitFor(
          (frames) => {
            const sent = frames.find((f) => f.frame.icmpv6?.type === 'router-solicitation' && f.frame.ethernet.src === plan.mac);
            if (!sent) return undefined;
            const answers = routers.map((r) => frames.find((f) => f.timestampUs >= sent.timestampUs && f.frame.icmpv6?.type === 'router-advertisement' && f.frame.ipv6?.src === r.linkLocal));
            if (!answers.every(Boolean)) return undefined;
            return answers.map((f, i) => ({ router: routers[i]!, delayMs: (f!.timestampUs - sent.timestampUs) / 1000, ra: f!.frame.icmpv6 as RouterAdvertisement, frame: f! }));
          },
          timeoutMs,
          `an RA from each router (${routers.map((r) => r.name).join(', ')}) answering ${name}'s RS`,
        );
      } finally {
        await capture.stop();
      }
    },
    requestPrefixes(opts = {}) {
      return dhcpClient(plan, opts);
    },
  };
}

export function router(name: string): RouterPlan {
  const r = currentPod().routers.find((x) => x.name === name);
  if (!r) throw new Error(`no router '${name}' (routers: ${currentPod().routers.map((x) => x.name).join(', ')})`);
  return r;
}

/** Asserts the router routes `prefix` (the relay's route on its LAN), via the given next hop. */
export async function expectRoute(r: RouterPlan, prefix: string, opts: { via: string }): Promise<void> {
  const held = await relayRoutes(r);
  expect(
    held.filter((x) => x.prefix === prefix).map((x) => x.via),
    `${r.name} routes ${prefix}: expected exactly one route via ${opts.via}, saw ${JSON.stringify(held.filter((x) => x.prefix === prefix))}`,
  ).to.deep.equal([opts.via]);
}

/** "hv1:uplink" → the namespace and interface of a node's port. */
function portOf(spec: string): { ns: string; iface: string } {
  const [node, iface] = spec.split(':');
  if (!node || !iface || !currentPod().nodes.some((n) => n.name === node)) throw new Error(`'${spec}' is not NODE:IFACE of this pod`);
  return { ns: namespaceName(currentPod().run, node), iface };
}

/** Same frame: the bytes are equal (captures see the frame as injected, or byte-identical after a bridge). */
const same = (a: CapturedFrame, wire: Buffer) => a.data.equals(wire);

export interface DropProof {
  controlLatencyMs: number;
  windowMs: number;
  entering: string;
  beyond: string;
}

/**
 * Proves a drop: the legitimate `control` frame from the same instance crosses from its hypervisor
 * port to `notBeyond` (so the path is alive and its latency L is measured), then `frame` is seen
 * entering the port and is absent beyond it for a window derived from L (4×L, 50 ms – 1 s). A dead
 * path fails on the control; a frame that passes fails with where it was seen. Captures are kept.
 */
export async function expectDropped(frame: Frame | Buffer, opts: { from: string; notBeyond: string; control: Frame | Buffer }): Promise<DropProof> {
  const inst = instance(opts.from);
  const port = portOf(`${inst.hypervisor}:${inst.port}`);
  const beyond = portOf(opts.notBeyond);
  const wire = Buffer.isBuffer(frame) ? frame : buildFrame(frame);
  const control = Buffer.isBuffer(opts.control) ? opts.control : buildFrame(opts.control);
  const [atPort, atBeyond] = await Promise.all([ProbeAgent.in(port.ns), ProbeAgent.in(beyond.ns)]);
  const entering = await atPort.capture(port.iface, '', evidence(`${opts.from}-entering-${port.iface}`));
  const past = await atBeyond.capture(beyond.iface, '', evidence(`past-${opts.notBeyond.replace(':', '-')}`));
  try {
    const sentAt = Date.now();
    await sendFrom(inst, [control]);
    const seenBeyond = await past.waitFor((fs) => fs.find((f) => same(f, control)), 2000, `the control frame from ${opts.from} beyond ${opts.notBeyond} (positive control: a dead path cannot prove a drop)`);
    const latencyMs = Math.max(1, seenBeyond.timestampUs / 1000 - sentAt);
    const windowMs = Math.min(1000, Math.max(50, 4 * latencyMs));
    await sendFrom(inst, [wire]);
    await entering.waitFor((fs) => fs.find((f) => same(f, wire)), 2000, `the offending frame entering ${inst.hypervisor}:${inst.port}`);
    try {
      const leaked = await past.waitFor((fs) => fs.find((f) => same(f, wire)), windowMs, 'the offending frame beyond');
      expect.fail(`the frame from ${opts.from} was NOT dropped: seen on ${opts.notBeyond} ${(leaked.timestampUs / 1000 - sentAt).toFixed(1)} ms after the control was sent (captures ${entering.file}, ${past.file})`);
    } catch (err) {
      if (!(err instanceof WaitTimeout)) throw err;
    }
    return { controlLatencyMs: latencyMs, windowMs, entering: entering.file, beyond: past.file };
  } finally {
    await Promise.all([entering.stop(), past.stop()]);
  }
}

/**
 * Asserts that the reference driver's rule `rule` in `inst`'s chain counted the packets `fn` sent
 * (the evidence beside the captures; another driver has no counters to read, and is judged by them alone).
 */
export async function counted<T>(inst: InstancePlan, rule: string, fn: () => Promise<T>, direction: 'out' | 'in' = 'out'): Promise<T> {
  const ns = namespaceName(currentPod().run, inst.hypervisor);
  if (!(await bridgeTablePresent(ns))) return fn();
  const chain = chainsOf(inst.name)[direction];
  const before = (await ruleCounters(ns, chain)).get(rule);
  expect(before, `rule '${rule}' in ${chain}`).to.be.a('number');
  const result = await fn();
  const after = (await ruleCounters(ns, chain)).get(rule)!;
  expect(after, `counter of rule '${rule}' in ${chain} on ${inst.hypervisor}`).to.be.above(before!);
  return result;
}
