/**
 * ISC Kea DHCPv6's configuration, rendered from the pod: clients identified by the MAC in option 37,
 * reservation by hw-address, subnet = pod /64 chosen by the relay's link-address, Preference 255
 * always sent, lease_cmds, memfile leases in the run directory. The reservation stores rewrite it;
 * netns/daemons/kea.ts starts Kea with it.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { Plan } from '../pod/plan.ts';
import { runDir } from '../pod/names.ts';
import { Prefix } from '../addr/prefix.ts';

export interface KeaReservation {
  mac: string;
  prefixes: string[];
}

/** Where Debian's multiarch layout puts Kea's hook libraries. */
export function keaHook(name: string): string {
  for (const dir of readdirSync('/usr/lib')) {
    const path = `/usr/lib/${dir}/kea/hooks/${name}`;
    if (existsSync(path)) return path;
  }
  throw new Error(`Kea hook ${name} not found under /usr/lib/*/kea/hooks (is kea-dhcp6-server installed?)`);
}

export function keaPaths(run: string) {
  const dir = runDir(run);
  return { dir, config: `${dir}/kea-dhcp6.json`, socket: `${dir}/kea.sock`, leases: `${dir}/kea-leases6.csv`, log: `${dir}/kea-dhcp6.log`, data: `${dir}/kea` };
}

/** Valid lifetime of every lease: a released prefix stays in quarantine this long (an old lease may live that long). */
export const KEA_VALID_LIFETIME_S = 4000;

export interface KeaOptions {
  /** Kea's `hosts-database` (the PostgreSQL reservation store); reservations then live there, not in the config. */
  hostsDatabase?: Record<string, string | number>;
}

export function keaConfig(plan: Plan, reservations: readonly KeaReservation[] = [], opts: KeaOptions = {}): object {
  const p = keaPaths(plan.run);
  const pool = Prefix.parse(plan.pod.pod.pdPool);
  return {
    Dhcp6: {
      'interfaces-config': { interfaces: [`${plan.kea.iface}/${plan.kea.address}`], 'service-sockets-max-retries': 100, 'service-sockets-retry-wait-time': 50 },
      'data-directory': p.data,
      'control-socket': { 'socket-type': 'unix', 'socket-name': p.socket },
      'lease-database': { type: 'memfile', persist: true, name: p.leases, 'lfc-interval': 0 },
      // By default the client's MAC is taken only from the relay's option 37: the DUID is client-chosen
      // and untrusted. The pod file's kea.macSources names others, for relays that insert no option 37
      // (docs/relays.md).
      'mac-sources': [...(plan.pod.kea.macSources ?? ['remote-id'])],
      'host-reservation-identifiers': ['hw-address'],
      ...(opts.hostsDatabase ? { 'hosts-database': opts.hostsDatabase } : {}),
      'hooks-libraries': [{ library: keaHook('libdhcp_lease_cmds.so') }],
      // T1 and T2 in every IA_PD (the pod file's kea.renewTimer and kea.rebindTimer).
      'renew-timer': plan.pod.kea.renewTimer ?? 1000,
      'rebind-timer': plan.pod.kea.rebindTimer ?? 2000,
      'preferred-lifetime': 3000,
      'valid-lifetime': KEA_VALID_LIFETIME_S,
      // A client may ask for lifetimes down to these in its IAPREFIX hint (PD-008 asks for a 2 s lease
      // and waits it out: the shorter the floor, the shorter the catalogue).
      'min-preferred-lifetime': 1,
      'min-valid-lifetime': 2,
      'max-preferred-lifetime': 3000,
      'max-valid-lifetime': KEA_VALID_LIFETIME_S,
      // Clients otherwise wait ~1 s for more Advertises (RFC 8415 §18.2.1).
      'option-data': [{ name: 'preference', data: '255', 'always-send': true }],
      subnet6: [
        {
          id: 1,
          subnet: plan.pod.pod.l2Prefix,
          'pd-pools': plan.pod.kea.dynamicPool ? [{ prefix: pool.address(), 'prefix-len': pool.length, 'delegated-len': plan.pod.pod.delegatedLength }] : [],
          reservations: reservations.map((r) => ({ 'hw-address': r.mac, prefixes: r.prefixes })),
        },
      ],
      loggers: [{ name: 'kea-dhcp6', output_options: [{ output: p.log }], severity: 'INFO' }],
    },
  };
}
