/**
 * The pod's L2 switches (the ToR, the hypervisors' cloudbr0, Kea's service bridge) forward on a
 * port only once the kernel's link watcher has seen its carrier come up, and a veth's own IPv6
 * (addrconf) starts only once the link watcher has marked it operationally up. The link watcher
 * handles such an event at once or batches it into its once-a-second run (docs/facts.md). A frame
 * sent before its port forwards is lost — an instance's first DAD probe or RS, which it does not
 * repeat for seconds — so `up` enables an instance's IPv6 only once the pod's links have settled:
 * every bridge port with a carrier forwards and every other veth that is up is operationally up.
 * One spawn reads every namespace's links (`ip -d -j link show`).
 */
import { ipJson, run } from '../harness/os/exec.ts';
import { waitUntil } from '../harness/os/wait.ts';
import type { Plan, PlanNode } from '../harness/pod/plan.ts';

interface IpLink {
  ifname: string;
  flags?: string[];
  operstate?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { state?: string } };
}

const MARK = '@@v6pod-links@@';

async function readLinks(namespaces: readonly PlanNode[]): Promise<Map<string, IpLink[] | undefined>> {
  const script = namespaces.map((n) => `echo '${MARK}'; ip -n '${n.ns}' -d -j link show; echo`).join('\n');
  const { stdout } = await run(['sh', '-c', script], { allowFailure: true });
  const parts = stdout.split(`${MARK}\n`).slice(1);
  return new Map(
    namespaces.map((n, i) => {
      try {
        return [n.name, JSON.parse(parts[i]?.trim() || '[]') as IpLink[]];
      } catch {
        return [n.name, undefined];
      }
    }),
  );
}

const isBridgePort = (l: IpLink) => l.linkinfo?.info_slave_kind === 'bridge';

/**
 * What has not settled among the links of the given nodes (default: every node), by node: bridge
 * ports with a carrier that do not forward, and veths set up that are not operationally up (a
 * bridge port's peer not up yet is no fault: it has no carrier).
 */
export async function linksUnsettled(plan: Plan, nodes: readonly PlanNode[] = plan.nodes): Promise<Map<string, string[]>> {
  const links = await readLinks(nodes);
  return new Map(
    nodes.map((n) => {
      const seen = links.get(n.name);
      if (!seen) return [n.name, [`${n.name}: unreadable links`]];
      return [
        n.name,
        seen.flatMap((l) => {
          const up = l.flags?.includes('UP') ?? false;
          const carrier = l.flags?.includes('LOWER_UP') ?? false;
          if (isBridgePort(l)) {
            const state = l.linkinfo?.info_slave_data?.state;
            return carrier && state !== 'forwarding' ? [`${n.name}:${l.ifname} (${state ?? 'no state'})`] : [];
          }
          return l.linkinfo?.info_kind === 'veth' && up && carrier && l.operstate !== 'UP' ? [`${n.name}:${l.ifname} (not operationally up)`] : [];
        }),
      ];
    }),
  );
}

/**
 * Waits until the pod's links have settled: every switch port with a carrier forwards and every
 * veth set up is operationally up — the instances' eth0 among them, so that enabling IPv6 on one
 * sends its first DAD probe at once, through a port that forwards.
 */
export async function waitLinksSettled(plan: Plan, timeoutMs = 5000): Promise<void> {
  // A node once settled stays so (nothing takes its links down): later polls read only the others.
  let pending: PlanNode[] = plan.nodes;
  let waiting: string[] = [];
  await waitUntil(
    async () => {
      const unsettled = await linksUnsettled(plan, pending);
      pending = pending.filter((n) => unsettled.get(n.name)?.length);
      waiting = [...unsettled.values()].flat();
      return pending.length === 0;
    },
    { timeoutMs, intervalMs: 50, what: () => `the pod's links to settle: ${waiting.join(', ')}` },
  );
}

interface IpAddrLink {
  operstate?: string;
  addr_info?: { family?: string; scope?: string; local?: string; tentative?: boolean; dadfailed?: boolean }[];
}

/**
 * Waits until a namespace's interface is operationally up and holds a link-local address past
 * DAD: a DHCP server that opens its sockets before then finds the interface not running or its
 * link-local tentative, and Kea tries again only a second later (docs/facts.md).
 */
export async function waitLinkLocalUsable(ns: string, iface: string, timeoutMs = 5000): Promise<void> {
  let seen = '';
  await waitUntil(
    async () => {
      const link = (await ipJson<IpAddrLink[]>(ns, ['-6', 'addr', 'show', 'dev', iface]))[0];
      const ll = link?.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'link');
      seen = `operstate ${link?.operstate ?? 'unknown'}, link-local ${ll ? `${ll.local}${ll.tentative ? ' tentative' : ''}` : 'none'}`;
      return link?.operstate === 'UP' && ll !== undefined && !ll.tentative && !ll.dadfailed;
    },
    { timeoutMs, intervalMs: 10, what: () => `${iface} in ${ns} to be up with a usable link-local (${seen})` },
  );
}
