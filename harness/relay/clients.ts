/**
 * What the relay learns from client frames and needs again when the server answers: the MAC
 * behind each client address (the Ethernet source of its last frame — never its DUID or its
 * link-local), and the client messages still awaiting a Reply (a Reply to Release says nothing of
 * the prefixes released, so they are remembered from the Release). Both are bounded: a flood of
 * spoofed clients evicts the oldest entries instead of growing the relay, and a flood of messages
 * from one address keeps only its newest few.
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

/** A client address: the MAC of its last frame and its last few messages awaiting a Reply, newest last. */
interface ClientEntry {
  mac: string;
  pending: (PendingMessage & { transactionId: number })[];
}

/** Messages remembered per client address (a client has one or two exchanges open; a flood is cut here). */
const PENDING_PER_CLIENT = 8;

export class ClientLedger {
  private readonly clients: BoundedMap<ClientEntry>;

  constructor(
    capacity = 65_536,
    private readonly pendingTtlMs = 120_000,
  ) {
    this.clients = new BoundedMap(capacity);
  }

  /** Records a client message: its source MAC, and the message awaiting its Reply. */
  record(peer: string, transactionId: number, msg: Omit<PendingMessage, 'at'>, now = Date.now()): void {
    const pending = { type: msg.type, mac: msg.mac, prefixes: msg.prefixes, at: now, transactionId };
    const entry = this.clients.get(peer);
    if (entry) {
      entry.mac = msg.mac;
      if (entry.pending.push(pending) > PENDING_PER_CLIENT) entry.pending.shift();
    }
    // Set again even when known, so an active client is in the current generation.
    this.clients.set(peer, entry ?? { mac: msg.mac, pending: [pending] });
  }

  macOf(peer: string): string | undefined {
    return this.clients.get(peer)?.mac;
  }

  /** The message this Reply answers. With several servers a Reply may come more than once: the entry stays until it ages out. */
  answered(peer: string, transactionId: number, now = Date.now()): PendingMessage | undefined {
    const pending = this.clients.get(peer)?.pending;
    if (!pending) return undefined;
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!;
      if (p.transactionId === transactionId) return now - p.at <= this.pendingTtlMs ? p : undefined;
    }
    return undefined;
  }
}
