/**
 * What the relay has done, as numbers `v6pod status` shows: messages received and sent per
 * DHCPv6 message type and side, drops per reason, routes installed/removed/current.
 */

export type Side = 'client' | 'server';

export interface CounterSnapshot {
  received: Record<string, number>;
  sent: Record<string, number>;
  dropped: Record<string, number>;
  routes: { installed: number; refreshed: number; removed: number; expired: number; current: number; failed: number; refused: number; repaired: number };
}

const bump = (table: Record<string, number>, key: string, by = 1) => {
  table[key] = (table[key] ?? 0) + by;
};

/** `client:solicit` from side and type, without building the key on every message. */
const bySide = (tables: Record<Side, Record<string, number>>) =>
  Object.fromEntries(Object.entries(tables).flatMap(([side, table]) => Object.entries(table).map(([type, n]) => [`${side}:${type}`, n])));

export class Counters {
  private readonly received: Record<Side, Record<string, number>> = { client: {}, server: {} };
  private readonly sent: Record<Side, Record<string, number>> = { client: {}, server: {} };
  private readonly dropped: Record<string, number> = {};
  readonly routes = { installed: 0, refreshed: 0, removed: 0, expired: 0, current: 0, failed: 0, refused: 0, repaired: 0 };

  /** Shown as `client:solicit`, `server:relay-reply`: the side it came from and its type. */
  receivedFrom(side: Side, type: string): void {
    bump(this.received[side], type);
  }

  sentTo(side: Side, type: string): void {
    bump(this.sent[side], type);
  }

  drop(reason: string): void {
    bump(this.dropped, reason);
  }

  droppedFor(reason: string): number {
    return this.dropped[reason] ?? 0;
  }

  snapshot(): CounterSnapshot {
    return { received: bySide(this.received), sent: bySide(this.sent), dropped: { ...this.dropped }, routes: { ...this.routes } };
  }
}
