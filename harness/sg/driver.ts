/**
 * What a security-group driver is: three verbs on one instance of one hypervisor — `add` (deploy:
 * before the instance's link comes up), `update` (its prefixes or rules changed), `remove`
 * (destroy) — each atomic and touching only that instance's objects. v6pod ships the reference
 * driver (nft-driver.ts) and runs any other implementation through the external-driver contract
 * (docs/sg-driver.md): a command called with the verb as its argument and the instance as JSON on
 * stdin, inside the hypervisor's network namespace.
 */
import { spawn } from 'node:child_process';
import { BRIDGES, type Plan } from '../pod/plan.ts';
import type { PgTarget } from '../control/kea-database.ts';
import { PodControl } from '../control/pod-control.ts';
import type { Reservation } from '../control/reservation-store.ts';
import { nsArgv } from '../os/exec.ts';
import { instanceModel, toCloudStackRules, formatRule, type SgInstance } from './model.ts';

export type SgVerb = 'add' | 'update' | 'remove';

/** Where a driver works: the hypervisor's namespace and its bridge. */
export interface HypervisorRef {
  name: string;
  ns: string;
  bridge: string;
}

export interface SgDriver {
  /** Shown in reports: "nft (reference)" or the external command. */
  readonly name: string;
  add(hv: HypervisorRef, inst: SgInstance): Promise<void>;
  update(hv: HypervisorRef, inst: SgInstance): Promise<void>;
  remove(hv: HypervisorRef, inst: SgInstance): Promise<void>;
  /** Optional bulk add (one transaction for a hypervisor's instances); without it `add` runs per instance. */
  addMany?(hv: HypervisorRef, insts: readonly SgInstance[]): Promise<void>;
}

export function hypervisorRef(plan: Plan, name: string): HypervisorRef {
  const node = plan.nodes.find((n) => n.name === name && n.role === 'hypervisor');
  if (!node) throw new Error(`no hypervisor '${name}' in run ${plan.run}`);
  return { name, ns: node.ns, bridge: BRIDGES.hypervisor };
}

/** The JSON an external driver receives on stdin (contract version 1, docs/sg-driver.md). */
export interface DriverRequest {
  version: 1;
  verb: SgVerb;
  hypervisor: { name: string; namespace: string; bridge: string };
  instance: {
    name: string;
    vif: string;
    mac: string;
    slaac: string;
    linkLocal: string;
    prefixes: string[];
    securityGroup: string;
    /** The group's rules, CloudStack text, one per entry. */
    rules: string[];
    /** The same rules as security_group.py's --rules argument ("…NEXT;…NEXT;"). */
    cloudstackRules: string;
  };
}

export function driverRequest(verb: SgVerb, hv: HypervisorRef, inst: SgInstance): DriverRequest {
  return {
    version: 1,
    verb,
    hypervisor: { name: hv.name, namespace: hv.ns, bridge: hv.bridge },
    instance: {
      name: inst.name,
      vif: inst.vif,
      mac: inst.mac,
      slaac: inst.slaac,
      linkLocal: inst.linkLocal,
      prefixes: inst.prefixes,
      securityGroup: inst.group,
      rules: inst.rules.map(formatRule),
      cloudstackRules: toCloudStackRules(inst.rules),
    },
  };
}

/** How long an external driver may take for one verb before it is killed and the verb fails. */
const EXTERNAL_TIMEOUT_MS = 30_000;

/**
 * Another implementation behind the contract: `CMD VERB` inside the hypervisor's namespace with the
 * request on stdin; exit 0 means applied. CMD is split on whitespace (no shell), so a path with
 * arguments works and nothing is interpreted.
 */
export class ExternalDriver implements SgDriver {
  private readonly argv: string[];
  constructor(readonly command: string) {
    this.argv = command.trim().split(/\s+/).filter(Boolean);
    if (!this.argv.length) throw new Error('--sg-driver needs a command');
  }

  get name(): string {
    return `external: ${this.command}`;
  }

  add(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.call('add', hv, inst);
  }

  update(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.call('update', hv, inst);
  }

  remove(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.call('remove', hv, inst);
  }

  private call(verb: SgVerb, hv: HypervisorRef, inst: SgInstance): Promise<void> {
    const argv = nsArgv(hv.ns, [...this.argv, verb]);
    const input = `${JSON.stringify(driverRequest(verb, hv, inst))}\n`;
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, V6POD_SG_VERB: verb } });
      let stderr = '';
      child.stdout.resume(); // its stdout is its own business; never let it block on a full pipe
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
      const timer = setTimeout(() => child.kill('SIGKILL'), EXTERNAL_TIMEOUT_MS);
      const fail = (why: string) => {
        const last = stderr.trim().split('\n').filter(Boolean).slice(-1)[0];
        reject(new Error(`security-group driver '${this.command} ${verb}' for ${inst.name} on ${hv.name} ${why}${last ? `: ${last}` : ''}`));
      };
      child.on('error', (err) => {
        clearTimeout(timer);
        fail(`did not start (${err.message})`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else fail(signal ? `was killed (${signal}${signal === 'SIGKILL' ? `, over ${EXTERNAL_TIMEOUT_MS / 1000} s` : ''})` : `failed (exit ${code})`);
      });
      child.stdin.on('error', () => undefined); // a driver that ignores stdin may close it early
      child.stdin.end(input);
    });
  }
}

/**
 * The driver a run uses: the external command given (`v6pod test --sg-driver CMD`, carried to
 * child processes as V6POD_SG_DRIVER), else the reference nft driver.
 */
export async function driverFor(command: string | undefined = process.env.V6POD_SG_DRIVER): Promise<SgDriver> {
  if (command?.trim()) return new ExternalDriver(command);
  const { NftDriver } = await import('./nft-driver.ts');
  return new NftDriver();
}

/** The models of a running pod's instances, with the prefixes the control plane reserved for each (`pg`: the run's host database, if any). */
export async function podInstanceModels(plan: Plan, pg?: PgTarget): Promise<SgInstance[]> {
  const control = await PodControl.open(plan, pg);
  try {
    return instanceModels(plan, await control.store.list());
  } finally {
    await control.close();
  }
}

/** Every instance's model from reservations already read (`up` has them from reserving). */
export function instanceModels(plan: Plan, reservations: readonly Reservation[]): SgInstance[] {
  const byMac = new Map(reservations.map((r) => [r.mac, r.prefixes]));
  return plan.instances.map((i) => instanceModel(plan, i, byMac.get(i.mac) ?? []));
}

/** Applies every instance's group (at `up`, or in a scenario run before the lead wires the driver). */
export async function applyAll(plan: Plan, driver: SgDriver, models: readonly SgInstance[]): Promise<void> {
  // One hypervisor at a time per driver call, hypervisors concurrently: a driver may lock per host.
  const byHv = new Map<string, SgInstance[]>();
  for (const m of models) byHv.set(m.hypervisor, [...(byHv.get(m.hypervisor) ?? []), m]);
  await Promise.all(
    [...byHv].map(async ([hv, insts]) => {
      const ref = hypervisorRef(plan, hv);
      // 250 instances one `nft -f` each take seconds; one transaction takes a fraction (bench/sg.ts).
      if (driver.addMany) await driver.addMany(ref, insts);
      else for (const inst of insts) await driver.add(ref, inst);
    }),
  );
}
