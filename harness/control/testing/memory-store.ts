/** A ReservationStore in memory, for the allocator's property tests: same merge rules as the real stores. */
import {
  canonicalReservations,
  mergeReservations,
  nextQuarantine,
  type Quarantined,
  type QuarantineOptions,
  type Reservation,
  type ReservationStore,
} from '../reservation-store.ts';
import { parseMac } from '../../addr/mac.ts';

export class MemoryStore implements ReservationStore {
  readonly kind = 'config' as const;
  private reservations: Reservation[] = [];
  private released: Quarantined[] = [];

  async list(): Promise<Reservation[]> {
    return this.reservations.map((r) => ({ mac: r.mac, prefixes: [...r.prefixes] }));
  }

  async find(macs: readonly string[]): Promise<Reservation[]> {
    const wanted = new Set(macs.map(parseMac));
    return (await this.list()).filter((r) => wanted.has(r.mac));
  }

  async quarantined(): Promise<Quarantined[]> {
    return this.released.map((q) => ({ ...q }));
  }

  async put(reservations: readonly Reservation[]): Promise<void> {
    this.reservations = mergeReservations(this.reservations, canonicalReservations(reservations));
    this.released = nextQuarantine(this.released, [], undefined, new Set(this.reservations.flatMap((r) => r.prefixes)));
  }

  async remove(macs: readonly string[], quarantine?: QuarantineOptions): Promise<void> {
    const gone = new Set(macs.map(parseMac));
    const removed = this.reservations.filter((r) => gone.has(r.mac));
    this.reservations = this.reservations.filter((r) => !gone.has(r.mac));
    this.released = nextQuarantine(this.released, removed, quarantine, new Set(this.reservations.flatMap((r) => r.prefixes)));
  }

  async close(): Promise<void> {}
}
