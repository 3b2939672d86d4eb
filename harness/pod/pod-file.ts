/**
 * The pod file: a pure description of one pod (after Mininet's topo.py), no kernel objects.
 * Loading checks the shape with ajv (pod-schema.ts), then the rules that relate fields, and
 * reports every problem at once as "<file>:<line>: <path> <rule broken>". The result is a fully
 * defaulted model; SLAAC and link-local addresses are not stored (harness/addr computes them).
 */
import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { assertUnicastMac, formatMac, generateMac } from '../addr/mac.ts';
import { Prefix } from '../addr/prefix.ts';
import validateShape from './pod-schema.validator.js';
import { ioReason } from '../os/usage-error.ts';
import { IFNAME_MAX, MAC_SOURCES, NAME_MAX, RELAY_KINDS, RUN_PREFIX_BUDGET, SUFFIX_BUDGET, type MacSource, type RelayKind } from './pod-choices.ts';

export {
  DEFAULT_POD_FILE,
  IFNAME_MAX,
  MAC_SOURCES,
  NAME_MAX,
  REAL_CLIENTS,
  RELAY_KINDS,
  RUN_PREFIX_BUDGET,
  SUFFIX_BUDGET,
  type MacSource,
  type RealClient,
  type RelayKind,
} from './pod-choices.ts';

export type DadMode = 'optimistic' | 'full';
export type InstanceKind = 'namespace' | 'synthetic';
export type KeaBackend = 'config' | 'postgresql';
/** The guest's DHCPv6 client: a real Debian 12 program (netns/guest-clients.ts), the emulated one (synthetic), or none. */
export type GuestClient = 'dhcp6c' | 'dhcpcd' | 'dhclient' | 'networkd' | 'dibbler' | 'synthetic' | 'none';
/** How the guest's kernel forms its addresses: EUI-64 (what CloudStack computes), stable privacy (RFC 7217), or with temporary addresses (RFC 8981). */
export type AddressMode = 'eui64' | 'stable-privacy' | 'temporary';

export interface PodSettings {
  /** The pod's L2 prefix, canonical text, exactly a /64 (instances derive SLAAC addresses from it). */
  readonly l2Prefix: string;
  /** The pool delegated prefixes are carved from, canonical text; never overlaps l2Prefix. */
  readonly pdPool: string;
  readonly delegatedLength: number;
  readonly prefixesPerInstance: number;
  readonly dad: DadMode;
  /**
   * The switches snoop MLD (the ToR bridge is the querier, the routers' ports are multicast-router
   * ports): multicast reaches only the ports that joined its group instead of every port.
   */
  readonly mldSnooping: boolean;
}

export interface NamedNode {
  readonly name: string;
}
export interface Router extends NamedNode {
  /** Canonical MAC: declared, or generated from pod and router name. */
  readonly mac: string;
}
export interface KeaDatabase {
  readonly host: string;
  readonly port?: number;
  readonly user: string;
  readonly name: string;
  readonly password?: string;
}
export interface Kea extends NamedNode {
  readonly backend: KeaBackend;
  readonly dynamicPool: boolean;
  /** T1 and T2 (seconds) Kea puts in every IA_PD. */
  readonly renewTimer: number;
  readonly rebindTimer: number;
  /** Kea's mac-sources, in order (default: remote-id only, option 37). */
  readonly macSources: readonly MacSource[];
  /** The user's PostgreSQL server for the postgresql backend; absent: a private cluster per run. */
  readonly database?: KeaDatabase;
}
export interface Instance extends NamedNode {
  /** Canonical unicast MAC: declared, or generated from pod and instance name. */
  readonly mac: string;
  /** How many delegated prefixes the instance holds. */
  readonly prefixes: number;
  readonly securityGroup: string;
  readonly kind: InstanceKind;
  /** Synthetic instances run their DHCPv6 PD client from boot (client: synthetic). */
  readonly dhcp: boolean;
  /** The DHCPv6 client the guest runs from boot (none: scenarios drive their own). */
  readonly client: GuestClient;
  readonly addressing: AddressMode;
}
export interface Hypervisor extends NamedNode {
  readonly instances: readonly Instance[];
}
export interface SecurityGroup {
  /** CloudStack rule text, e.g. "I:tcp;22;22;::/0" (meaning defined by the security-group model). */
  readonly rules: readonly string[];
}

export interface Pod {
  readonly name: string;
  readonly pod: PodSettings;
  readonly routers: readonly Router[];
  readonly core: NamedNode;
  readonly kea: Kea;
  readonly tor: NamedNode;
  /** The routers' DHCPv6 relay (default v6pod). */
  readonly relay: RelayKind;
  /** relay: external — the command run on each router (docs/relays.md). */
  readonly relayCommand?: string;
  readonly hypervisors: readonly Hypervisor[];
  /** Always holds "default" (empty when the file declares none), like CloudStack's per-account group. */
  readonly securityGroups: Readonly<Record<string, SecurityGroup>>;
}

export const DEFAULT_SECURITY_GROUP = 'default';

export class PodFileError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(errors.join('\n'));
    this.name = 'PodFileError';
  }
}

type Path = readonly (string | number)[];
interface Problem {
  readonly path: Path;
  readonly rule: string;
}

export function loadPodFile(file: string): Pod {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = ioReason(err);
    throw new PodFileError([`${file}: cannot read: ${reason}`]);
  }
  return parsePodFile(text, file);
}

/** Parses pod file text; `file` only names the source in error lines. */
export function parsePodFile(text: string, file: string): Pod {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number) => `${file}:${lines.linePos(offset).line}:`;
  const syntax = doc.errors.map((e) => `${at(e.pos[0])} ${e.code === 'MULTIPLE_DOCS' ? 'a pod file holds one YAML document' : e.message}`);
  if (syntax.length > 0) throw new PodFileError(syntax);

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    throw new PodFileError([`${at(0)} ${(err as Error).message}`]);
  }

  const shape = shapeProblems(data);
  const problems = [...shape, ...meaningProblems(new Fields(data, shape))];
  if (problems.length > 0) {
    const located = problems.map((p) => ({ line: lineOf(doc, lines, p.path), text: `${pathText(p.path)} ${p.rule}` }));
    located.sort((a, b) => a.line - b.line);
    throw new PodFileError(located.map((p) => `${file}:${p.line}: ${p.text}`));
  }
  return normalize(data as RawPod);
}

// ---- shape (ajv, compiled ahead: pod-schema-codegen.ts) ----------------------------------------

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

/** Ajv's errors as problems; fills static defaults into `data` as a side effect. */
function shapeProblems(data: unknown): Problem[] {
  if (validateShape(data)) return [];
  return (validateShape.errors ?? []).flatMap((e): Problem[] => {
    const path = pointerPath(data, e.instancePath);
    const schema = e.parentSchema as { description?: string; properties?: object } | undefined;
    switch (e.keyword) {
      case 'required':
        return [{ path: [...path, e.params.missingProperty as string], rule: 'is required' }];
      case 'additionalProperties':
        return [
          {
            path: [...path, e.params.additionalProperty as string],
            rule: `is not a known key (known: ${Object.keys(schema?.properties ?? {}).join(', ')})`,
          },
        ];
      case 'propertyNames':
        return []; // ajv repeats the failing name's own error (below) as this summary
      case 'type':
        return [{ path, rule: `must be ${TYPE_WORDS[e.params.type as string] ?? e.params.type}` }];
      case 'enum':
        return [{ path, rule: `${quote(e.data)} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}` }];
      case 'pattern': {
        const named = (e as ErrorObject & { propertyName?: string }).propertyName;
        const subject = named ?? e.data;
        return [{ path: named === undefined ? path : [...path, named], rule: `${quote(subject)} ${schema?.description ?? e.message}` }];
      }
      case 'minimum':
        return [{ path, rule: `${e.data} must be at least ${e.params.limit}` }];
      case 'uniqueItems':
        return [{ path: [...path, e.params.i as number], rule: `${quote((e.data as unknown[])[e.params.i as number])} is listed twice` }];
      case 'minLength':
        return [{ path, rule: e.params.limit === 1 ? 'must not be empty' : `must be at least ${e.params.limit} characters` }];
      case 'minItems':
        return [{ path, rule: `must have at least ${e.params.limit} ${e.params.limit === 1 ? 'entry' : 'entries'}` }];
      default:
        return [{ path, rule: e.message ?? e.keyword }];
    }
  });
}

/** A JSON pointer as path segments; numeric segments are indexes only where the data holds a list. */
function pointerPath(data: unknown, pointer: string): Path {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let at = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const segment = Array.isArray(at) ? Number(key) : key;
    path.push(segment);
    at = (at as Record<string | number, unknown> | undefined)?.[segment];
  }
  return path;
}

// ---- meaning (rules across fields) ---------------------------------------------------------------

/** Reads the raw data, hiding any field whose path (or an ancestor's) already broke the shape. */
class Fields {
  private readonly broken: Set<string>;

  constructor(
    private readonly data: unknown,
    shape: readonly Problem[],
  ) {
    this.broken = new Set(shape.map((p) => JSON.stringify(p.path)));
  }

  get(path: Path): unknown {
    for (let i = 0; i <= path.length; i++) if (this.broken.has(JSON.stringify(path.slice(0, i)))) return undefined;
    return this.walk(path);
  }

  private walk(path: Path): unknown {
    let at = this.data;
    for (const segment of path) at = (at as Record<string | number, unknown> | null | undefined)?.[segment];
    return at;
  }

  /** Whether the file gives the field at all, well-formed or not. */
  present(path: Path): boolean {
    return this.walk(path) !== undefined;
  }

  string(path: Path): string | undefined {
    const v = this.get(path);
    return typeof v === 'string' ? v : undefined;
  }

  integer(path: Path): number | undefined {
    const v = this.get(path);
    return Number.isInteger(v) ? (v as number) : undefined;
  }

  length(path: Path): number {
    const v = this.get(path);
    return Array.isArray(v) ? v.length : 0;
  }

  keys(path: Path): string[] {
    const v = this.get(path);
    return v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
  }
}

/** Every node of the pod with its path; all names share one namespace. */
function nodePaths(f: Fields): Path[] {
  const paths: Path[] = [];
  for (let i = 0; i < f.length(['routers']); i++) paths.push(['routers', i]);
  paths.push(['core'], ['kea'], ['tor']);
  for (let h = 0; h < f.length(['hypervisors']); h++) {
    paths.push(['hypervisors', h]);
    for (let i = 0; i < f.length(['hypervisors', h, 'instances']); i++) paths.push(['hypervisors', h, 'instances', i]);
  }
  return paths;
}

function instancePaths(f: Fields): Path[] {
  return nodePaths(f).filter((p) => p[2] === 'instances');
}

/** How many instances an entry stands for (its `count`, else 1). */
function countOf(f: Fields, instance: Path): number {
  return f.integer([...instance, 'count']) ?? 1;
}

/** The names an entry gives: its own, or <name>-1 … <name>-<count> when it has a count. */
function expandedNames(name: string, count: number | undefined): string[] {
  return count === undefined ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i + 1}`);
}

/** The i-th MAC counting up from `first` (48-bit, so it can carry across bytes). */
function nthMac(first: string, i: number): string {
  const value = BigInt(`0x${first.replaceAll(':', '')}`) + BigInt(i);
  return formatMac(Buffer.from(value.toString(16).padStart(12, '0').slice(-12), 'hex'));
}

function meaningProblems(f: Fields): Problem[] {
  return [...prefixProblems(f), ...nameProblems(f), ...macProblems(f), ...securityGroupProblems(f), ...keaProblems(f), ...kindProblems(f), ...relayProblems(f)];
}

/** relayCommand goes with relay: external, and only with it (a relay that broke the shape is reported already). */
function relayProblems(f: Fields): Problem[] {
  const relay = f.present(['relay']) ? f.get(['relay']) : 'v6pod';
  const command = f.present(['relayCommand']);
  if (relay === undefined) return [];
  if (relay === 'external' && !command) return [{ path: ['relay'], rule: "'external' needs relayCommand, the command run on each router (docs/relays.md)" }];
  if (command && relay !== 'external') return [{ path: ['relayCommand'], rule: `applies to relay: external only (relay is ${String(relay)})` }];
  return [];
}

/**
 * The pod with the relay and Kea's MAC sources `v6pod test --relay/--relay-command/--mac-sources`
 * chose over the file's; the same rules as the file's fields, one line each (path and rule).
 */
export function withRelayChoice(pod: Pod, choice: { relay?: string; relayCommand?: string; macSources?: readonly string[] }): Pod {
  const relay = choice.relay ?? (choice.relayCommand !== undefined ? 'external' : pod.relay);
  const errors: string[] = [];
  if (!RELAY_KINDS.includes(relay as RelayKind)) errors.push(`--relay '${relay}' must be one of ${RELAY_KINDS.join(', ')}`);
  const command = choice.relayCommand ?? (relay === 'external' ? pod.relayCommand : undefined);
  if (relay === 'external' && !command?.trim()) errors.push('--relay external needs --relay-command CMD, the command run on each router (docs/relays.md)');
  const sources = choice.macSources ?? pod.kea.macSources;
  for (const s of sources) if (!MAC_SOURCES.includes(s as MacSource)) errors.push(`--mac-sources '${s}' must be one of ${MAC_SOURCES.join(', ')}`);
  if (sources.length === 0) errors.push(`--mac-sources needs at least one of ${MAC_SOURCES.join(', ')}`);
  if (new Set(sources).size !== sources.length) errors.push(`--mac-sources lists a source twice (${sources.join(',')})`);
  if (errors.length) throw new PodFileError(errors);
  const { relayCommand: _dropped, ...rest } = pod;
  void _dropped;
  return {
    ...rest,
    relay: relay as RelayKind,
    ...(relay === 'external' ? { relayCommand: command!.trim() } : {}),
    kea: { ...pod.kea, macSources: [...sources] as MacSource[] },
  };
}

function kindProblems(f: Fields): Problem[] {
  const problems: Problem[] = [];
  for (const p of instancePaths(f)) {
    const synthetic = (f.get([...p, 'kind']) ?? 'namespace') === 'synthetic';
    const dhcp = f.get([...p, 'dhcp']);
    const client = f.get([...p, 'client']);
    const addressing = f.get([...p, 'addressing']);
    if (dhcp !== undefined && !synthetic)
      problems.push({ path: [...p, 'dhcp'], rule: 'applies to synthetic instances only (a namespace instance names its guest client with client)' });
    if (client === 'synthetic' && !synthetic)
      problems.push({
        path: [...p, 'client'],
        rule: "'synthetic' is the emulated client of synthetic instances only (set kind: synthetic, or name a real client)",
      });
    if (client !== undefined && client !== 'synthetic' && client !== 'none' && synthetic)
      problems.push({
        path: [...p, 'client'],
        rule: `'${String(client)}' runs in a namespace instance; a synthetic instance runs the emulated client (synthetic) or none`,
      });
    if (synthetic && dhcp !== undefined && client !== undefined && (client === 'synthetic') !== dhcp)
      problems.push({ path: [...p, 'client'], rule: `'${String(client)}' contradicts dhcp: ${String(dhcp)} (give one of them)` });
    if (synthetic && addressing !== undefined && addressing !== 'eui64')
      problems.push({
        path: [...p, 'addressing'],
        rule: `'${String(addressing)}' needs a kernel instance (the emulated stack of a synthetic one forms EUI-64 addresses only)`,
      });
  }
  return problems;
}

function keaProblems(f: Fields): Problem[] {
  const problems: Problem[] = [];
  const backend = f.get(['kea', 'backend']) ?? 'config';
  if (f.get(['kea', 'database']) !== undefined && backend !== 'postgresql') {
    problems.push({ path: ['kea', 'database'], rule: `names a PostgreSQL server, but kea.backend is ${String(backend)} (set it to postgresql)` });
  }
  const renew = f.integer(['kea', 'renewTimer']);
  const rebind = f.integer(['kea', 'rebindTimer']);
  if (renew !== undefined && rebind !== undefined && rebind <= renew)
    problems.push({ path: ['kea', 'rebindTimer'], rule: `${rebind} must be greater than kea.renewTimer ${renew} (RFC 8415 §21.21: T1 < T2)` });
  return problems;
}

function prefixProblems(f: Fields): Problem[] {
  const problems: Problem[] = [];
  const parse = (path: Path): Prefix | undefined => {
    const text = f.string(path);
    if (text === undefined) return undefined;
    try {
      return Prefix.parse(text);
    } catch (err) {
      problems.push({ path, rule: (err as Error).message });
      return undefined;
    }
  };
  const l2 = parse(['pod', 'l2Prefix']);
  const pool = parse(['pod', 'pdPool']);
  if (l2 && l2.length !== 64) problems.push({ path: ['pod', 'l2Prefix'], rule: `${l2} must be exactly a /64 (SLAAC needs it)` });
  if (l2 && pool?.overlaps(l2)) {
    problems.push({ path: ['pod', 'pdPool'], rule: `${pool} overlaps pod.l2Prefix ${l2} (the pod /64 must not be in the delegation pool)` });
  }

  const delegated = f.integer(['pod', 'delegatedLength']);
  if (delegated === undefined) return problems;
  const shortest = (pool?.length ?? 0) + 1;
  if (delegated < shortest || delegated > 64) {
    const what = pool ? `longer than pod.pdPool's /${pool.length}` : 'at least 1';
    problems.push({ path: ['pod', 'delegatedLength'], rule: `${delegated} must be ${what} and at most 64` });
  } else if (pool) {
    const perInstance = f.integer(['pod', 'prefixesPerInstance']) ?? 0;
    const instances = instancePaths(f);
    const needed = instances.reduce((sum, p) => sum + countOf(f, p) * (f.integer([...p, 'prefixes']) ?? perInstance), 0);
    const holds = pool.subprefixCount(delegated);
    if (BigInt(needed) > holds) {
      const total = instances.reduce((sum, p) => sum + countOf(f, p), 0);
      problems.push({
        path: ['pod', 'pdPool'],
        rule: `${pool} holds ${holds} /${delegated}s; the ${total} instances need ${needed}`,
      });
    }
  }
  return problems;
}

function nameProblems(f: Fields): Problem[] {
  const problems: Problem[] = [];
  const tooLong = (path: Path, name: string) => {
    if (name.length > NAME_MAX) {
      problems.push({
        path,
        rule:
          `'${name}' is ${name.length} characters; at most ${NAME_MAX} fit (kernel interface names hold ${IFNAME_MAX}: ` +
          `${RUN_PREFIX_BUDGET} run prefix + ${NAME_MAX} name + ${SUFFIX_BUDGET} suffix)`,
      });
    }
  };
  const podName = f.string(['name']);
  if (podName !== undefined) tooLong(['name'], podName);

  const seen = new Map<string, Path>();
  for (const node of nodePaths(f)) {
    const path = [...node, 'name'];
    const given = f.string(path);
    if (given === undefined) continue;
    const count = node[2] === 'instances' ? f.integer([...node, 'count']) : undefined;
    for (const name of expandedNames(given, count)) {
      tooLong(path, name);
      const first = seen.get(name);
      const which = name === given ? '' : ` (from count: ${name})`;
      if (first) problems.push({ path, rule: `'${given}'${which} is already the name of ${pathText(first)} (node names share one namespace)` });
      else seen.set(name, node);
    }
  }
  return problems;
}

/** Seed of a generated MAC: stable per pod and node, different across pods. */
function macSeed(podName: string, nodeName: string): string {
  return `${podName}/${nodeName}`;
}

function macProblems(f: Fields): Problem[] {
  const problems: Problem[] = [];
  const podName = f.string(['name']);
  const owners = new Map<string, { label: string; seed?: string }>(); // MAC → its first owner
  for (const node of nodePaths(f).filter((p) => p[0] === 'routers' || p[2] === 'instances')) {
    const path = [...node, 'mac'];
    const declared = f.present(path);
    const count = node[2] === 'instances' ? f.integer([...node, 'count']) : undefined;
    const macs: { mac: string; seed?: string }[] = [];
    if (declared) {
      const text = f.string(path);
      if (text === undefined) continue;
      try {
        const first = assertUnicastMac(text);
        for (let i = 0; i < (count ?? 1); i++) macs.push({ mac: assertUnicastMac(nthMac(first, i)) });
      } catch (err) {
        problems.push({ path, rule: (err as Error).message });
        continue;
      }
    } else {
      const name = f.string([...node, 'name']);
      if (podName === undefined || name === undefined) continue;
      for (const n of expandedNames(name, count)) macs.push({ mac: generateMac(macSeed(podName, n)), seed: macSeed(podName, n) });
    }
    for (const { mac, seed } of macs) {
      const owner = owners.get(mac);
      if (owner === undefined) owners.set(mac, { label: declared ? pathText(path) : `the MAC generated for ${pathText(node)}`, seed });
      else if (declared) problems.push({ path, rule: `${mac} is already used by ${owner.label}` });
      // The same seed means the same name, which nameProblems reports already.
      else if (owner.seed !== seed) problems.push({ path: node, rule: `generated MAC ${mac} is already used by ${owner.label}` });
    }
  }
  return problems;
}

function securityGroupProblems(f: Fields): Problem[] {
  const problems: Problem[] = [];
  const groups = f.keys(['securityGroups']);
  for (const group of groups) {
    for (let r = 0; r < f.length(['securityGroups', group, 'rules']); r++) {
      const path = ['securityGroups', group, 'rules', r];
      const cidrs = f.string(path)?.split(';')[3]?.split(',') ?? [];
      for (const cidr of cidrs) {
        try {
          Prefix.parse(cidr);
        } catch (err) {
          problems.push({ path, rule: (err as Error).message });
        }
      }
    }
  }
  for (const instance of instancePaths(f)) {
    const path = [...instance, 'securityGroup'];
    const group = f.string(path);
    if (group !== undefined && group !== DEFAULT_SECURITY_GROUP && !groups.includes(group)) {
      problems.push({ path, rule: `'${group}' is not declared in securityGroups` });
    }
  }
  return problems;
}

// ---- the model -----------------------------------------------------------------------------------

/** The data as it stands after a clean validation (ajv has filled the static defaults). */
interface RawPod {
  name: string;
  pod: PodSettings;
  routers: { name: string; mac?: string }[];
  core: NamedNode;
  kea: Kea;
  tor: NamedNode;
  relay: RelayKind;
  relayCommand?: string;
  hypervisors: {
    name: string;
    instances: {
      name: string;
      mac?: string;
      prefixes?: number;
      securityGroup?: string;
      kind: InstanceKind;
      dhcp?: boolean;
      client?: GuestClient;
      addressing: AddressMode;
      count?: number;
    }[];
  }[];
  securityGroups: Record<string, SecurityGroup>;
}

function normalize(raw: RawPod): Pod {
  const mac = (node: { name: string; mac?: string }) => (node.mac ? assertUnicastMac(node.mac) : generateMac(macSeed(raw.name, node.name)));
  return {
    name: raw.name,
    pod: { ...raw.pod, l2Prefix: String(Prefix.parse(raw.pod.l2Prefix)), pdPool: String(Prefix.parse(raw.pod.pdPool)) },
    routers: raw.routers.map((r) => ({ name: r.name, mac: mac(r) })),
    core: raw.core,
    kea: raw.kea,
    tor: raw.tor,
    relay: raw.relay,
    ...(raw.relayCommand !== undefined ? { relayCommand: raw.relayCommand } : {}),
    hypervisors: raw.hypervisors.map((h) => ({
      name: h.name,
      instances: h.instances.flatMap((i) =>
        expandedNames(i.name, i.count).map((name, k) => ({
          name,
          mac: i.mac ? assertUnicastMac(nthMac(i.mac, k)) : mac({ name }),
          prefixes: i.prefixes ?? raw.pod.prefixesPerInstance,
          securityGroup: i.securityGroup ?? DEFAULT_SECURITY_GROUP,
          kind: i.kind,
          dhcp: clientOf(i) === 'synthetic',
          client: clientOf(i),
          addressing: i.addressing,
        })),
      ),
    })),
    securityGroups: { [DEFAULT_SECURITY_GROUP]: { rules: [] }, ...raw.securityGroups },
  };
}

/** The guest client an entry runs: declared, else today's behaviour (synthetic: the emulated client unless dhcp: false; namespace: none). */
function clientOf(i: RawPod['hypervisors'][number]['instances'][number]): GuestClient {
  if (i.client !== undefined) return i.client;
  return i.kind === 'synthetic' && (i.dhcp ?? true) ? 'synthetic' : 'none';
}

// ---- locating and naming paths -------------------------------------------------------------------

/** "hypervisors[0].instances[1].mac"; the document root reads "(top level)". */
function pathText(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** The line of the deepest node on `path` that exists: a map entry's key line, a list item's first line. */
function lineOf(doc: Document, lines: LineCounter, path: Path): number {
  let node: unknown = doc.contents;
  let offset = (node as { range?: [number] } | null)?.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as { range?: [number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as { range?: [number] } | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return lines.linePos(offset).line;
}

function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}
