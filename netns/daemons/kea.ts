/** ISC Kea DHCPv6 in its namespace, started with the config harness/control/kea-config.ts renders. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Plan } from '../../harness/pod/plan.ts';
import type { DaemonRecord } from '../run-state.ts';
import { startDaemon } from './process.ts';
import { keaConfig, keaPaths, type KeaOptions, type KeaReservation } from '../../harness/control/kea-config.ts';

export async function startKea(plan: Plan, reservations: readonly KeaReservation[] = [], opts: KeaOptions = {}): Promise<DaemonRecord> {
  const p = keaPaths(plan.run);
  mkdirSync(p.data, { recursive: true });
  // A restart (up's reconcile) keeps the file the reservation store wrote: it is the one source of truth.
  if (!existsSync(p.config)) writeFileSync(p.config, `${JSON.stringify(keaConfig(plan, reservations, opts), null, 2)}\n`);
  return startDaemon({
    name: 'kea-dhcp6',
    node: plan.pod.kea.name,
    ns: plan.kea.ns,
    argv: ['kea-dhcp6', '-c', p.config],
    log: `${p.dir}/kea-dhcp6.out`,
    env: { KEA_PIDFILE_DIR: p.dir, KEA_LOCKFILE_DIR: p.dir },
  });
}
