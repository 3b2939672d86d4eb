/**
 * An instance as an actor: `vm('vm1').solicitRouters()`, `vm('vm3').requestPrefixes({ iaPds: 2 })`,
 * the seed's dhcp6c started in it, addresses added to its stack and their DAD outcome.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { artifactPath, currentScenario } from './pod-context.ts';
import { instance, routers } from './nodes.ts';
import { kernelState, send } from './instance.ts';
import { inNode } from './tools.ts';
import { watching } from './watch.ts';
import { icmpv6Of } from './frame-match.ts';
import { dhcpClient, reservedPrefixes, startDhcp6c, type ClientOptions } from './dhcp.ts';
import type { DhcpClientResult } from './dhcp-client.ts';
import type { CapturedFrame } from './agent-client.ts';
import { waitUntil } from '../os/wait.ts';
import type { InstancePlan, RouterPlan } from '../pod/plan.ts';
import type { Frame } from '../packet/frame.ts';
import type { RouterAdvertisement } from '../packet/icmpv6.ts';
import { routerSolicitation } from '../packet/builders.ts';

export interface SolicitedRa {
  router: RouterPlan;
  /** Time from the RS leaving the instance to this router's RA arriving. */
  delayMs: number;
  ra: RouterAdvertisement;
  /** The RA's IPv6 hop limit (255 for any ND message, RFC 4861 §6.1.2). */
  hopLimit: number;
  frame: CapturedFrame;
}

export interface VmHandle {
  plan: InstancePlan;
  /** Sends one RS (built with the codecs) from eth0 and returns every router's RA to it, with its delay. */
  solicitRouters(timeoutMs?: number): Promise<SolicitedRa[]>;
  /** Runs a real router-discovery client (rdisc6 …) in the instance; returns what it printed and every router's RA to its RS. */
  discoverRouters(argv: string[], timeoutMs?: number): Promise<{ output: string; ras: SolicitedRa[] }>;
  /** A DHCPv6 exchange through the relays with the codec client (default: acquire one IA_PD). */
  requestPrefixes(opts?: ClientOptions): Promise<DhcpClientResult>;
  /** The prefixes the control plane reserved for its MAC. */
  reservedPrefixes(): Promise<string[]>;
  /** Sends frames out of its own port. */
  send(...frames: Array<Frame | Buffer>): Promise<void>;
  /** wide-dhcpv6 dhcp6c with the seed's configuration, running in the instance until stop() (which makes it Release). */
  startDhcp6c(): { pid: number; stop(): Promise<void> };
  /** Adds an address (`address/len`) to one of its interfaces (default eth0). */
  addAddress(cidr: string, iface?: string): Promise<void>;
  /** Removes it (nothing to do when it is not there). */
  removeAddress(cidr: string, iface?: string): Promise<void>;
  /** Waits for DAD of `address` on eth0 to end: 'valid', or 'duplicate' when it failed. */
  dadOutcome(address: string, timeoutMs?: number): Promise<'valid' | 'duplicate'>;
}

/** The RS from `plan` and, after it, one RA from each router: waited for in the capture. */
function answersTo(plan: InstancePlan, frames: CapturedFrame[]): SolicitedRa[] | undefined {
  const all = routers();
  const sent = frames.find((f) => icmpv6Of(f, 'router-solicitation') && f.frame.ethernet.src === plan.mac);
  if (!sent) return undefined;
  const answers = all.map((r) =>
    frames.find((f) => f.timestampUs >= sent.timestampUs && icmpv6Of(f, 'router-advertisement') && f.frame.ipv6?.src === r.linkLocal),
  );
  if (!answers.every(Boolean)) return undefined;
  return answers.map((f, i) => ({
    router: all[i]!,
    delayMs: (f!.timestampUs - sent.timestampUs) / 1000,
    ra: icmpv6Of(f, 'router-advertisement')!,
    hopLimit: f!.frame.ipv6!.hopLimit,
    frame: f!,
  }));
}

export function vm(name: string | InstancePlan): VmHandle {
  const plan = instance(name);
  const discover = <T>(act: () => Promise<T>, timeoutMs: number) =>
    watching(plan, 'icmpv6', async (capture) => {
      const acted = await act();
      const ras = await capture.waitFor(
        (fs) => answersTo(plan, fs),
        timeoutMs,
        `an RA from each router (${routers()
          .map((r) => r.name)
          .join(', ')}) answering ${plan.name}'s RS`,
      );
      return { acted, ras };
    });
  return {
    plan,
    async solicitRouters(timeoutMs = 2000) {
      return (await discover(() => send(plan, routerSolicitation({ mac: plan.mac, src: plan.linkLocal })), timeoutMs)).ras;
    },
    async discoverRouters(argv, timeoutMs = 3000) {
      const { acted, ras } = await discover(() => inNode(plan, argv), timeoutMs);
      return { output: acted.stdout, ras };
    },
    requestPrefixes(opts = {}) {
      return dhcpClient(plan, opts);
    },
    reservedPrefixes() {
      return reservedPrefixes(plan);
    },
    send(...frames) {
      return send(plan, ...frames);
    },
    startDhcp6c() {
      return startDhcp6c(plan.ns, mkdtempSync(join(artifactPath(''), `${currentScenario() ?? 'scenario'}-dhcp6c-`)));
    },
    async addAddress(cidr, iface = 'eth0') {
      await inNode(plan, ['ip', '-6', 'address', 'add', cidr, 'dev', iface]);
    },
    async removeAddress(cidr, iface = 'eth0') {
      await inNode(plan, ['ip', '-6', 'address', 'del', cidr, 'dev', iface], { allowFailure: true });
    },
    dadOutcome(address, timeoutMs = 5000) {
      // DAD ends either way: the address turns valid, or it fails (a neighbor claimed it).
      return waitUntil(
        async () => {
          const a = (await kernelState([plan])).get(plan.name)!.addresses.find((x) => x.address === address);
          return a?.dadFailed ? 'duplicate' : a && !a.tentative ? 'valid' : undefined;
        },
        { timeoutMs, what: `DAD of ${address} on ${plan.name} to end` },
      );
    },
  };
}
