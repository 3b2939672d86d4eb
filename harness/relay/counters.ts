/**
 * What the relay has done, as numbers `v6pod status` shows: messages received and sent per
 * DHCPv6 message type and side, drops per reason, routes installed/removed/current.
 */

export type Side = 'client' | 'server';

export interface CounterSnapshot {
  received: Record<string, number>;
  sent: Record<string, number>;
  dropped: Record<string, number>;
  routes: { installed: number; refreshed: number; removed: number; expired: number; current: number; failed: number };
}

const bump = (table: Record<string, number>, key: string, by = 1) => {
  table[key] = (table[key] ?? 0) + by;
};

export class Counters {
  private readonly received: Record<string, number> = {};
  private readonly sent: Record<string, number> = {};
  private readonly dropped: Record<string, number> = {};
  readonly routes = { installed: 0, refreshed: 0, removed: 0, expired: 0, current: 0, failed: 0 };

  /** `client:solicit`, `server:relay-reply`: the side it came from and its type. */
  receivedFrom(side: Side, type: string): void {
    bump(this.received, `${side}:${type}`);
  }

  sentTo(side: Side, type: string): void {
    bump(this.sent, `${side}:${type}`);
  }

  drop(reason: string): void {
    bump(this.dropped, reason);
  }

  droppedFor(reason: string): number {
    return this.dropped[reason] ?? 0;
  }

  snapshot(): CounterSnapshot {
    return { received: { ...this.received }, sent: { ...this.sent }, dropped: { ...this.dropped }, routes: { ...this.routes } };
  }
}
