/**
 * The pod's topology as a graph, from its plan alone (no running pod needed): one vertex per node,
 * drawn by role and labeled with its key addresses, one edge per veth link labeled with the
 * interface name at each end. Rendered as Mermaid or Graphviz dot (svg: dot -Tsvg of the dot text).
 */
import { BRIDGES, type Plan, type Role } from './plan.ts';

export interface GraphVertex {
  name: string;
  role: Role;
  /** Lines under the name: addresses, MAC, bridge. */
  details: string[];
}

export interface GraphEdge {
  a: string;
  aIf: string;
  b: string;
  bIf: string;
}

export interface PodGraph {
  pod: string;
  vertices: GraphVertex[];
  edges: GraphEdge[];
}

/** Top to bottom; each edge is drawn from its upper end, which is what ranks it in both renderers. */
const TIER: Record<Role, number> = { core: 0, router: 1, kea: 2, tor: 2, hypervisor: 3, instance: 4 };

export function podGraph(plan: Plan): PodGraph {
  const roleOf = new Map(plan.nodes.map((n) => [n.name, n.role]));
  const tier = (node: string) => TIER[roleOf.get(node)!];
  const router = new Map(plan.routers.map((r) => [r.name, r]));
  const instance = new Map(plan.instances.map((i) => [i.name, i]));
  const details = (name: string, role: Role): string[] => {
    switch (role) {
      case 'core':
        return [plan.core.address, `routes ${plan.pod.pod.pdPool}`];
      case 'router': {
        const r = router.get(name)!;
        return [`lan ${r.lanAddress}/64`, r.linkLocal];
      }
      case 'kea':
        return [`${plan.kea.iface} ${plan.kea.address}`];
      case 'tor':
        return [`${BRIDGES.tor} (pod L2 ${plan.pod.pod.l2Prefix})`];
      case 'hypervisor':
        return [BRIDGES.hypervisor];
      case 'instance': {
        const i = instance.get(name)!;
        return [i.mac, i.slaac];
      }
    }
  };
  const synthetic = syntheticVertices(plan);
  return {
    pod: plan.pod.name,
    vertices: [...plan.nodes.map((n) => ({ name: n.name, role: n.role, details: details(n.name, n.role) })), ...synthetic.vertices],
    edges: [
      ...plan.links
        .map(({ a, b }) => (tier(a.node) <= tier(b.node) ? [a, b] : [b, a]))
        .map(([a, b]) => ({ a: a!.node, aIf: a!.ifname, b: b!.node, bIf: b!.ifname })),
      ...synthetic.edges,
    ],
  };
}

/** Above this many synthetic instances on a hypervisor, they are drawn as one vertex (a 1,000-instance drawing says nothing). */
const SYNTHETIC_DRAWN = 8;

/** Synthetic instances hang off their hypervisor's port (a TAP, no veth): one vertex each, or one per hypervisor when many. */
function syntheticVertices(plan: Plan): { vertices: GraphVertex[]; edges: GraphEdge[] } {
  const vertices: GraphVertex[] = [];
  const edges: GraphEdge[] = [];
  for (const h of plan.pod.hypervisors) {
    const mine = plan.instances.filter((i) => i.hypervisor === h.name && i.kind === 'synthetic');
    if (mine.length > SYNTHETIC_DRAWN) {
      const name = `${h.name}-synthetic`;
      vertices.push({ name, role: 'instance', details: [`${mine.length} synthetic instances`, `${mine[0]!.name} … ${mine.at(-1)!.name}`] });
      edges.push({ a: h.name, aIf: `${mine.length} TAPs`, b: name, bIf: 'emulated' });
      continue;
    }
    for (const i of mine) {
      vertices.push({ name: i.name, role: 'instance', details: [i.mac, i.slaac, 'synthetic'] });
      edges.push({ a: h.name, aIf: i.port, b: i.name, bIf: 'tap' });
    }
  }
  return { vertices, edges };
}

/** Mermaid shapes by role: [open, close]. */
const MERMAID_SHAPE: Record<Role, [string, string]> = {
  core: ['((', '))'],
  router: ['{{', '}}'],
  kea: ['[(', ')]'],
  tor: ['[', ']'],
  hypervisor: ['[[', ']]'],
  instance: ['(', ')'],
};

/** Mermaid ids must avoid keywords such as `end`; node names are [a-z0-9-], so a prefix suffices. */
const mermaidId = (name: string) => `n_${name.replace(/-/g, '_')}`;

export function toMermaid(g: PodGraph): string {
  const lines = ['graph TD'];
  for (const v of g.vertices) {
    const [open, close] = MERMAID_SHAPE[v.role];
    lines.push(`  ${mermaidId(v.name)}${open}"<b>${v.name}</b> (${v.role})<br/>${v.details.join('<br/>')}"${close}`);
  }
  for (const e of g.edges) lines.push(`  ${mermaidId(e.a)} ---|"${e.aIf} ↔ ${e.bIf}"| ${mermaidId(e.b)}`);
  return `${lines.join('\n')}\n`;
}

const DOT_SHAPE: Record<Role, string> = {
  core: 'doubleoctagon',
  router: 'hexagon',
  kea: 'cylinder',
  tor: 'box',
  hypervisor: 'box3d',
  instance: 'ellipse',
};

/** Only names, MACs, addresses and interface names reach a label; quotes and backslashes are escaped anyway. */
const q = (...lines: string[]) => `"${lines.map((s) => s.replace(/["\\]/g, '\\$&')).join('\\n')}"`;

export function toDot(g: PodGraph): string {
  const lines = [`graph ${q(g.pod)} {`, '  node [fontname="Helvetica" fontsize=10];', '  edge [fontname="Helvetica" fontsize=8];'];
  for (const v of g.vertices) lines.push(`  ${q(v.name)} [shape=${DOT_SHAPE[v.role]} label=${q(`${v.name} (${v.role})`, ...v.details)}];`);
  // Peers of a tier side by side.
  for (const role of ['router', 'hypervisor', 'instance'] as const) {
    const names = g.vertices.filter((v) => v.role === role).map((v) => q(v.name));
    if (names.length > 1) lines.push(`  { rank=same; ${names.join('; ')}; }`);
  }
  for (const e of g.edges) lines.push(`  ${q(e.a)} -- ${q(e.b)} [taillabel=${q(e.aIf)} headlabel=${q(e.bIf)}];`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
