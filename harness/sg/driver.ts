/**
 * What a security-group driver is: three verbs on one instance of one hypervisor — `add` (deploy:
 * before the instance's link comes up), `update` (its prefixes or rules changed), `remove`
 * (destroy) — each atomic and touching only that instance's objects. v6pod ships the reference
 * driver (nft-driver.ts) and runs any other implementation through the external-driver contract
 * (external-driver.ts, docs/sg-driver.md): a command called with the verb as its argument and the instance as JSON on
 * stdin, inside the hypervisor's network namespace.
 */
import { BRIDGES, type Plan } from '../pod/plan.ts';
import { toCloudStackRules, formatRule, type SgInstance } from './model.ts';

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
