/**
 * What the relay learns from client frames and needs again when the server answers: the MAC
 * behind each client address (the Ethernet source of its last frame — never its DUID or its
 * link-local), and the client messages still awaiting a Reply (a Reply to Release says nothing of
 * the prefixes released, so they are remembered from the Release). Both are bounded: a flood of
 * spoofed clients evicts the oldest entries instead of growing the relay.
 */
import type { ClientServerMessageType } from '../packet/dhcpv6.ts';

export interface PendingMessage {
  type: ClientServerMessageType;
  mac: string;
  /** IA_PD prefixes the client named (for Release/Decline). */
  prefixes: string[];
  at: number;
}

/**
 * A map that keeps at least the last `capacity` entries set and at most twice as many: entries go
 * into the current generation; a full generation becomes the old one and the one before it is
 * dropped whole. (An exact LRU — a Map re-inserted on every set — cost a delete per message.)
 */
class BoundedMap<V> {
  private current = new Map<string, V>();
  private old = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  set(key: string, value: V): void {
    this.current.set(key, value);
    if (this.current.size >= this.capacity) {
      this.old = this.current;
      this.current = new Map();
    }
  }

  get(key: string): V | undefined {
    return this.current.get(key) ?? this.old.get(key);
  }
}

export class ClientLedger {
  private readonly macs: BoundedMap<string>;
  private readonly pending: BoundedMap<PendingMessage>;

  constructor(
    capacity = 65_536,
    private readonly pendingTtlMs = 120_000,
  ) {
    this.macs = new BoundedMap(capacity);
    this.pending = new BoundedMap(capacity);
  }

  /** Records a client message: its source MAC, and the message awaiting its Reply. */
  record(peer: string, transactionId: number, msg: Omit<PendingMessage, 'at'>, now = Date.now()): void {
    this.macs.set(peer, msg.mac);
    this.pending.set(`${peer}|${transactionId}`, { type: msg.type, mac: msg.mac, prefixes: msg.prefixes, at: now });
  }

  macOf(peer: string): string | undefined {
    return this.macs.get(peer);
  }

  /** The message this Reply answers. With several servers a Reply may come more than once: the entry stays until it ages out. */
  answered(peer: string, transactionId: number, now = Date.now()): PendingMessage | undefined {
    const p = this.pending.get(`${peer}|${transactionId}`);
    return p && now - p.at <= this.pendingTtlMs ? p : undefined;
  }
}
