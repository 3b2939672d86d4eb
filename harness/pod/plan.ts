/**
 * The realization plan of a pod: which namespaces, links, addresses, sysctls and routes make it,
 * as data (after Mininet's net.py building from topo.py). Pure: `v6pod up --dry-run` prints it,
 * realize.ts executes it, status/graph read it. Phases run in order:
 *   root     one `ip -batch -` in the root namespace: namespaces and veth pairs (created in place,
 *            the two ends of a pair with different ifindexes: see vethLine)
 *   setup    per namespace, concurrently: sysctls, bridges, addresses, every link up — an instance's
 *            eth0 too, with IPv6 disabled on it, so its port's carrier settles (the kernel's link
 *            watcher) while Kea starts and the security groups are applied
 *   routes   per namespace: static routes that need both ends of a link up
 *   (Kea, reservations, security groups; every port forwarding — netns/realize.ts, netns/switches.ts)
 *   attach   per instance: IPv6 enabled on eth0, so its first DAD probe and RS cross a port that
 *            forwards, through its security group (then radvd starts: its first RA reaches them all)
 */
import { createHash } from 'node:crypto';
import type { AddressMode, GuestClient, InstanceKind, Pod } from './pod-file.ts';
import { namespaceName } from './names.ts';
import { generateMac } from '../addr/mac.ts';
import { linkLocalAddress, slaacAddress } from '../addr/slaac.ts';
import { Prefix } from '../addr/prefix.ts';
import { multicastMac } from '../addr/multicast.ts';

/** Infrastructure addressing outside the pod's prefixes (a ULA /48 of v6pod's). */
export const INFRA = {
  coreAddress: 'fd76:3670:ffff::1',
  serviceNet: 'fd76:3670:ffff:547::/64',
  keaAddress: 'fd76:3670:ffff:547::547',
  /** Static link-locals on each core↔router transit link. */
  transitRouter: 'fe80::1',
  transitCore: 'fe80::2',
  /** The ToR's own link-local when it is the pod's MLD querier (pod.mldSnooping): the lowest on the LAN, so it wins the election. */
  torQuerier: 'fe80::1:1',
} as const;

/** The groups a router sends to on its LAN: all-nodes (radvd's RAs) and all-MLDv2-routers (its kernel's reports). */
const ROUTER_MULTICAST = ['ff02::1', 'ff02::16'];

export const BRIDGES = { tor: 'br0', hypervisor: 'cloudbr0', service: 'svc0' } as const;

export type Role = 'core' | 'router' | 'kea' | 'tor' | 'hypervisor' | 'instance';

export interface PlanNode {
  name: string;
  role: Role;
  ns: string;
}

export interface LinkEnd {
  node: string;
  ifname: string;
  mac: string;
}

export interface PlanLink {
  a: LinkEnd;
  b: LinkEnd;
}

export interface NsScript {
  /** "net/ipv6/conf/eth0/accept_ra=1": written under /proc/sys in order. */
  sysctls: string[];
  /**
   * Interfaces whose offloads are turned off: checksums filled in and segments kept wire-sized, so
   * captures hold what a NIC would send (veth otherwise leaves partial checksums and 64 KiB frames).
   */
  offloadsOff?: string[];
  /** `ip -batch` lines run after the sysctls. */
  ip: string[];
}

export interface RouterPlan {
  name: string;
  ns: string;
  mac: string;
  lanAddress: string;
  linkLocal: string;
  serviceAddress: string;
}

export interface InstancePlan {
  name: string;
  kind: InstanceKind;
  hypervisor: string;
  /**
   * Where the instance's stack runs: its own namespace, or — synthetic — the hypervisor's, whose
   * host daemon serves the instance's TAP port (harness/synth/).
   */
  ns: string;
  port: string;
  mac: string;
  slaac: string;
  linkLocal: string;
  prefixes: number;
  securityGroup: string;
  /** Synthetic: runs its DHCPv6 PD client from boot. */
  dhcp: boolean;
  /** The DHCPv6 client `up` starts in it once its link-local is usable (netns/guest-clients.ts). */
  client: GuestClient;
  /** How its kernel forms addresses; only eui64 yields `slaac`, the address CloudStack computes. */
  addressing: AddressMode;
}

export interface Plan {
  run: string;
  pod: Pod;
  nodes: PlanNode[];
  links: PlanLink[];
  root: string[];
  setup: Record<string, NsScript>;
  routes: Record<string, string[]>;
  attach: Record<string, NsScript>;
  routers: RouterPlan[];
  instances: InstancePlan[];
  kea: { ns: string; iface: string; address: string };
  core: { ns: string; address: string };
}

const v6 = (iface: string, key: string, value: number | string) => `net/ipv6/conf/${iface}/${key}=${value}`;

/**
 * The RFC 7217 secret of a stable-privacy guest: fixed per pod and instance (as an image's installer
 * would write it once), in the IPv6 address form the kernel's stable_secret takes.
 */
export function stableSecret(podName: string, instance: string): string {
  const hex = createHash('sha256').update(`v6pod/${podName}/${instance}`).digest('hex').slice(0, 32);
  return hex.match(/.{4}/g)!.join(':');
}

/**
 * Sysctls of an instance's eth0, before it comes up (docs/facts.md): RAs accepted, no forwarding,
 * and the addressing the guest declares — eui64 (what CloudStack computes: addr_gen_mode=0,
 * use_tempaddr=0, the default), stable-privacy (RFC 7217: a stable_secret, addr_gen_mode=2; the
 * link-local is derived from the secret too), temporary (RFC 8981: EUI-64 plus temporary addresses,
 * preferred as sources: use_tempaddr=2).
 */
export function instanceSysctls(dad: Pod['pod']['dad'], addressing: AddressMode = 'eui64', secret = ''): string[] {
  const optimistic = dad === 'optimistic' ? 1 : 0;
  const mode =
    addressing === 'stable-privacy'
      ? [v6('eth0', 'stable_secret', secret), v6('eth0', 'addr_gen_mode', 2), v6('eth0', 'use_tempaddr', 0)]
      : [v6('eth0', 'addr_gen_mode', 0), v6('eth0', 'use_tempaddr', addressing === 'temporary' ? 2 : 0)];
  return [
    ...mode,
    v6('eth0', 'forwarding', 0),
    v6('eth0', 'accept_ra', 1),
    v6('eth0', 'autoconf', 1),
    v6('eth0', 'accept_dad', 1),
    v6('eth0', 'optimistic_dad', optimistic),
    v6('eth0', 'use_optimistic', optimistic),
    // Linux waits a fixed second before its first RS; RFC 4861 §6.3.7 allows 0 (the delay is an upper bound).
    v6('eth0', 'router_solicitation_delay', 0),
  ];
}

/**
 * Hypervisor port (vnetN) of each instance: the ports already given keep theirs (a port never
 * changes under a running instance), the others take the lowest free vnetN on their hypervisor.
 */
export function assignPorts(pod: Pod, given: Readonly<Record<string, string>> = {}): Record<string, string> {
  const ports: Record<string, string> = {};
  for (const h of pod.hypervisors) {
    const taken = new Set(h.instances.flatMap((i) => (given[i.name] ? [given[i.name]!] : [])));
    let next = 0;
    for (const inst of h.instances) {
      if (given[inst.name]) {
        ports[inst.name] = given[inst.name]!;
        continue;
      }
      while (taken.has(`vnet${next}`)) next++;
      ports[inst.name] = `vnet${next}`;
      taken.add(`vnet${next}`);
    }
  }
  return ports;
}

export function buildPlan(pod: Pod, run: string, givenPorts: Readonly<Record<string, string>> = {}): Plan {
  const ports = assignPorts(pod, givenPorts);
  const ns = (node: string) => namespaceName(run, node);
  const mac = (node: string, ifname: string) => generateMac(`${pod.name}/${node}/${ifname}`);
  const l2 = Prefix.parse(pod.pod.l2Prefix);
  const service = Prefix.parse(INFRA.serviceNet);

  const nodes: PlanNode[] = [
    { name: pod.core.name, role: 'core', ns: ns(pod.core.name) },
    ...pod.routers.map((r) => ({ name: r.name, role: 'router' as const, ns: ns(r.name) })),
    { name: pod.kea.name, role: 'kea', ns: ns(pod.kea.name) },
    { name: pod.tor.name, role: 'tor', ns: ns(pod.tor.name) },
    ...pod.hypervisors.map((h) => ({ name: h.name, role: 'hypervisor' as const, ns: ns(h.name) })),
    // Synthetic instances have no namespace of their own: their TAPs live in the hypervisor's.
    ...pod.hypervisors.flatMap((h) =>
      h.instances.filter((i) => i.kind === 'namespace').map((i) => ({ name: i.name, role: 'instance' as const, ns: ns(i.name) })),
    ),
  ];

  const links: PlanLink[] = [];
  const link = (aNode: string, aIf: string, bNode: string, bIf: string, aMac = mac(aNode, aIf), bMac = mac(bNode, bIf)) =>
    links.push({ a: { node: aNode, ifname: aIf, mac: aMac }, b: { node: bNode, ifname: bIf, mac: bMac } });

  const routers: RouterPlan[] = pod.routers.map((r, i) => ({
    name: r.name,
    ns: ns(r.name),
    mac: r.mac,
    lanAddress: l2.address(BigInt(i + 1)),
    linkLocal: linkLocalAddress(r.mac),
    serviceAddress: service.address(BigInt(i + 1)),
  }));
  /** Kea's service bridge: a fixed MAC, so the routers hold a static neighbour entry for Kea. */
  const keaServiceMac = mac(pod.kea.name, BRIDGES.service);
  for (const r of pod.routers) {
    link(r.name, 'uplink', pod.core.name, r.name);
    link(r.name, 'lan', pod.tor.name, r.name, r.mac);
    link(r.name, 'svc', pod.kea.name, r.name);
  }
  const instances: InstancePlan[] = [];
  for (const h of pod.hypervisors) {
    link(h.name, 'uplink', pod.tor.name, h.name);
    h.instances.forEach((inst) => {
      const port = ports[inst.name]!;
      if (inst.kind === 'namespace') link(inst.name, 'eth0', h.name, port, inst.mac);
      instances.push({
        name: inst.name,
        kind: inst.kind,
        hypervisor: h.name,
        ns: inst.kind === 'namespace' ? ns(inst.name) : ns(h.name),
        port,
        mac: inst.mac,
        slaac: slaacAddress(l2, inst.mac),
        linkLocal: linkLocalAddress(inst.mac),
        prefixes: inst.prefixes,
        securityGroup: inst.securityGroup,
        dhcp: inst.dhcp,
        client: inst.client,
        addressing: inst.addressing,
      });
    });
  }

  const root = [...nodes.map((n) => `netns add ${n.ns}`), ...links.map((l, k) => vethLine(run, l, FIRST_IFINDEX + 2 * k))];
  const portsOf = (node: string) => links.flatMap((l) => (l.a.node === node ? [l.a.ifname] : l.b.node === node ? [l.b.ifname] : []));
  const setup: Record<string, NsScript> = {};
  const routes: Record<string, string[]> = {};
  const attach: Record<string, NsScript> = {};

  // An L2 switch: a bridge with STP off, no forwarding delay and no IPv6 of its own; multicast
  // snooping as the pod says (mldSwitch), else every multicast frame floods to every port.
  const l2Switch = (node: string, bridge: string, ports: string[]): NsScript => {
    const snooping = pod.pod.mldSnooping
      ? mldSwitch(
          node === pod.tor.name,
          countInstances(pod),
          pod.routers.map((r) => r.name),
        )
      : undefined;
    return {
      sysctls: ['net/ipv6/conf/all/disable_ipv6=1', 'net/ipv6/conf/default/disable_ipv6=1', ...(snooping?.sysctls ?? [])],
      ip: [
        'link set lo up',
        `link add name ${bridge} type bridge stp_state 0 forward_delay 0 ${snooping?.options ?? 'mcast_snooping 0'}`,
        ...(snooping?.bridge(bridge) ?? []),
        ...ports.flatMap((p) => [`link set ${p} master ${bridge}`, `link set ${p} up`, ...(snooping?.port(p) ?? [])]),
        `link set ${bridge} up`,
      ],
    };
  };

  const core = pod.core.name;
  setup[ns(core)] = {
    sysctls: ['net/ipv6/conf/all/forwarding=1'],
    ip: [
      'link set lo up',
      `address add ${INFRA.coreAddress}/128 dev lo`,
      ...pod.routers.flatMap((r) => [
        `address add ${INFRA.transitCore}/64 dev ${r.name} nodad`,
        `link set ${r.name} up`,
        // Static for the same reason as the routers' (below): a full neighbour table fails a resolution.
        `neigh replace ${INFRA.transitRouter} lladdr ${mac(r.name, 'uplink')} dev ${r.name} nud permanent`,
      ]),
    ],
  };
  // Outside CloudStack: the core routes the PD pool (and the pod /64) to both routers, ECMP.
  const viaRouters = pod.routers.map((r) => `nexthop via ${INFRA.transitRouter} dev ${r.name}`).join(' ');
  routes[ns(core)] = [`route add ${pod.pod.pdPool} ${viaRouters}`, `route add ${pod.pod.l2Prefix} ${viaRouters}`];

  for (const r of routers) {
    setup[r.ns] = {
      // Routers are infrastructure with unique addresses by construction: no DAD, so radvd can
      // advertise from the LAN link-local the moment it starts.
      sysctls: ['net/ipv6/conf/all/forwarding=1', ...['uplink', 'lan', 'svc'].map((i) => v6(i, 'accept_dad', 0))],
      ip: [
        'link set lo up',
        `address add ${INFRA.transitRouter}/64 dev uplink nodad`,
        `address add ${r.lanAddress}/64 dev lan nodad`,
        `address add ${r.serviceAddress}/64 dev svc nodad`,
        'link set uplink up',
        'link set lan up',
        'link set svc up',
        // Static, as on a real service network: the kernel's neighbour table is one for all
        // namespaces (1,024 entries), and every instance's RS fills it with an entry on each router,
        // so a resolution of Kea started while thousands boot failed and dropped the relays'
        // Relay-Forwards (docs/facts.md).
        `neigh replace ${INFRA.keaAddress} lladdr ${keaServiceMac} dev svc nud permanent`,
        `neigh replace ${INFRA.transitCore} lladdr ${mac(core, r.name)} dev uplink nud permanent`,
        // A multicast destination needs a neighbour entry too, and a full table evicts it: radvd's
        // RA then failed (sendmsg EINVAL), radvd counted it sent, and the instances that had
        // solicited waited for its next periodic RA, 30-60 s (docs/facts.md). Permanent entries are
        // exempt from the table's limit.
        ...ROUTER_MULTICAST.map((g) => `neigh replace ${g} lladdr ${multicastMac(g)} dev lan nud permanent`),
      ],
    };
    routes[r.ns] = [`route add default via ${INFRA.transitCore} dev uplink`];
  }

  const kea = pod.kea.name;
  const keaPorts = pod.routers.map((r) => r.name);
  setup[ns(kea)] = {
    // The service bridge (created after these) skips DAD: its MAC is fixed and unique, and Kea,
    // started once its link-local is usable, binds at its first try (docs/facts.md).
    sysctls: [...keaPorts.map((p) => v6(p, 'disable_ipv6', 1)), 'net/ipv6/conf/default/accept_dad=0'],
    ip: [
      'link set lo up',
      `link add name ${BRIDGES.service} address ${keaServiceMac} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`,
      ...keaPorts.flatMap((p) => [`link set ${p} master ${BRIDGES.service}`, `link set ${p} up`]),
      `address add ${INFRA.keaAddress}/64 dev ${BRIDGES.service} nodad`,
      ...routers.map((r) => `neigh replace ${r.serviceAddress} lladdr ${mac(r.name, 'svc')} dev ${BRIDGES.service} nud permanent`),
      `link set ${BRIDGES.service} up`,
    ],
  };

  setup[ns(pod.tor.name)] = l2Switch(pod.tor.name, BRIDGES.tor, portsOf(pod.tor.name));
  for (const h of pod.hypervisors) setup[ns(h.name)] = l2Switch(h.name, BRIDGES.hypervisor, portsOf(h.name));
  for (const inst of instances.filter((i) => i.kind === 'namespace')) {
    // eth0 comes up with IPv6 off: no frame leaves it until attach enables IPv6 (DAD, MLD, RS start then).
    setup[inst.ns] = {
      sysctls: [v6('eth0', 'disable_ipv6', 1), ...instanceSysctls(pod.pod.dad, inst.addressing, stableSecret(pod.name, inst.name))],
      ip: ['link set lo up', 'link set eth0 up'],
    };
    attach[inst.ns] = { sysctls: [v6('eth0', 'disable_ipv6', 0)], ip: [] };
  }
  for (const n of nodes) setup[n.ns]!.offloadsOff = portsOf(n.name);

  return {
    run,
    pod,
    nodes,
    links,
    root,
    setup,
    routes,
    attach,
    routers,
    instances,
    kea: { ns: ns(kea), iface: BRIDGES.service, address: INFRA.keaAddress },
    core: { ns: ns(core), address: INFRA.coreAddress },
  };
}

/** Every instance the pod declares. */
function countInstances(pod: Pod): number {
  return pod.hypervisors.reduce((n, h) => n + h.instances.length, 0);
}

/**
 * A switch that snoops MLD (RFC 4541), so multicast reaches only the ports whose hosts joined its
 * group — a Neighbor Solicitation one instance, a Solicit the routers — instead of every port
 * (flooding hands every port a copy of every frame: docs/facts.md has the cost). ff02::1 still floods
 * everywhere (the kernel never snoops all-nodes). The ToR is the pod's MLD querier (MLDv2): it
 * needs an IPv6 address of its own to query from (without one the bridge neither queries nor
 * counts as a querier), which its bridge alone gets: a fixed link-local without DAD, usable before
 * the bridge has a carrier (no RAs, no SLAAC, no EUI-64 address). Its ports to the routers are permanent
 * multicast-router ports, as a router's port is on a real ToR: every group's traffic reaches the
 * routers, so RSs and Solicits never depend on the routers' reports having been snooped. The
 * hypervisors learn their uplink as the router port from the ToR's queries, and snoop only until
 * those stop (then they flood again). The group table must hold every instance's solicited-node
 * group (the bridge refuses groups past hash_max and the traffic for them goes astray), so it
 * grows with the pod. A hypervisor snoops only once it has heard a query, and a query sent before
 * its uplink forwards (the kernel's link watcher, seconds under load) is lost: twenty startup
 * queries a second apart (not two 31 s apart), while `up` settles the links and before the
 * instances start, then one every 125 s. Queries are dear once there are members: the bridge
 * floods every MLDv2 report (to ff02::16) to every port, so a query costs N reports × N ports
 * (docs/facts.md). Members answer within 1 s (not the default 10 s): a bridge that first hears a
 * querier keeps flooding for that long, to learn.
 */
export function mldSwitch(
  querier: boolean,
  instances: number,
  routerPorts: readonly string[],
): { sysctls: string[]; options: string; port: (p: string) => string[]; bridge: (b: string) => string[] } {
  let hashMax = 4096;
  while (hashMax < 2 * (instances + 64)) hashMax *= 2;
  const common = `mcast_snooping 1 mcast_hash_max ${hashMax} mcast_mld_version 2`;
  if (!querier) return { sysctls: [], options: `${common} mcast_querier 0`, port: () => [], bridge: () => [] };
  return {
    // The bridge (created after these run) takes the defaults: IPv6 on, no address of its own making;
    // the ports exist already and keep IPv6 off.
    sysctls: ['disable_ipv6=0', 'addr_gen_mode=1', 'accept_ra=0', 'autoconf=0', 'accept_dad=0', 'forwarding=0'].map((s) => `net/ipv6/conf/default/${s}`),
    options: `${common} mcast_querier 1 mcast_query_response_interval 100 mcast_startup_query_count 20 mcast_startup_query_interval 100`,
    port: (p) => (routerPorts.includes(p) ? [`link set ${p} type bridge_slave mcast_router 2`] : []),
    // Usable at once (nodad), before the bridge has a carrier: its first query already has a source.
    bridge: (b) => [`address add ${INFRA.torQuerier}/64 dev ${b} nodad`],
  };
}

/** The ifindex of the first link's first end at `up`; link k's ends get FIRST_IFINDEX + 2k and + 2k + 1. */
const FIRST_IFINDEX = 100;

/**
 * The `ip -batch` line that creates a link's veth pair directly inside its two namespaces. With
 * `index`, its ends get the ifindexes index and index + 1 (unique in every fresh namespace of `up`,
 * each link's pair of numbers its own). The kernel's link watcher handles a carrier change at once
 * for a device whose ifindex differs from its peer's (linkwatch_urgent_event), but batches one
 * whose ifindex equals its peer's — two fresh namespaces number their first veths alike — into its
 * once-a-second run (docs/facts.md): a bridge port or an instance's eth0 then waits up to a second.
 * A deploy into a running pod lets the kernel pick (a fixed number could be taken there).
 */
function vethLine(run: string, l: PlanLink, index?: number): string {
  const a = index === undefined ? '' : ` index ${index}`;
  const b = index === undefined ? '' : ` index ${index + 1}`;
  return `link add name ${l.a.ifname}${a} netns ${namespaceName(run, l.a.node)} address ${l.a.mac} type veth peer name ${l.b.ifname}${b} netns ${namespaceName(run, l.b.node)} address ${l.b.mac}`;
}

/**
 * The kernel objects of one instance, for deploying it into a running pod: buildPlan's pieces for
 * the instance, except that eth0 stays down until attach brings it up (rather than coming up with
 * IPv6 off, which `up` does to let every port settle while other work runs).
 */
export function instanceSteps(
  plan: Plan,
  inst: InstancePlan,
): { root: string[]; hypervisor: { ns: string; script: NsScript }; setup: NsScript; attach: string[] } {
  const link = plan.links.find((l) => l.a.node === inst.name && l.a.ifname === 'eth0')!;
  return {
    root: [`netns add ${inst.ns}`, vethLine(plan.run, link)],
    hypervisor: {
      ns: namespaceName(plan.run, inst.hypervisor),
      script: {
        sysctls: [v6(inst.port, 'disable_ipv6', 1)],
        offloadsOff: [inst.port],
        ip: [`link set ${inst.port} master ${BRIDGES.hypervisor}`, `link set ${inst.port} up`],
      },
    },
    setup: {
      ...plan.setup[inst.ns]!,
      sysctls: instanceSysctls(plan.pod.pod.dad, inst.addressing, stableSecret(plan.pod.name, inst.name)),
      ip: ['link set lo up'],
    },
    attach: ['link set eth0 up'],
  };
}

/** The script a namespace runs for one phase: sysctl writes, then one `ip -batch`. */
export function nsShellScript(script: NsScript): string {
  const writes = script.sysctls.map((s) => {
    const [path, value] = s.split('=') as [string, string];
    return `echo ${value} > /proc/sys/${path}`;
  });
  const batch = script.ip.length ? [`ip -batch - <<'EOF'`, ...script.ip, 'EOF'] : [];
  const offloads = (script.offloadsOff ?? []).map((i) => `ethtool -K ${i} tx off tso off gso off >/dev/null`);
  return [...writes, ...offloads, ...batch].join('\n');
}
