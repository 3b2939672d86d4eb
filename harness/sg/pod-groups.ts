/** A pod's security groups: the driver a run uses, every instance's model, and applying them all. */
import type { Plan } from '../pod/plan.ts';
import type { PgTarget } from '../control/kea-database.ts';
import { PodControl } from '../control/pod-control.ts';
import type { Reservation } from '../control/reservation-store.ts';
import { hypervisorRef, type SgDriver } from './driver.ts';
import { ExternalDriver } from './external-driver.ts';
import { NftDriver } from './nft-driver.ts';
import { instanceModel, type SgInstance } from './model.ts';

/**
 * The driver a run uses: the external command given (`v6pod test --sg-driver CMD`, carried to
 * child processes as V6POD_SG_DRIVER), else the reference nft driver.
 */
export function driverFor(command: string | undefined = process.env.V6POD_SG_DRIVER): SgDriver {
  if (command?.trim()) return new ExternalDriver(command);
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
