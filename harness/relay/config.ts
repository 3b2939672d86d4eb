/**
 * The relay agent's configuration: one JSON file per router, written by netns/daemons/relay.ts
 * from the pod plan. Everything the relay needs to know about its router is here, so the relay
 * never reads the pod file or the plan.
 */
import { readFileSync } from 'node:fs';
import { Prefix } from '../addr/prefix.ts';

export interface RelayConfig {
  /** The router's name, for logs and counters. */
  router: string;
  /** The LAN interface facing the instances (client side). */
  lanInterface: string;
  /** The router's MAC on the LAN: frames it sent itself are ignored, replies are crafted from it. */
  routerMac: string;
  /** The router's global LAN address: the Relay-Forward link-address (Kea picks the subnet by it). */
  linkAddress: string;
  /** The router's LAN link-local: the source of messages delivered to clients (RFC 8415 §19.2). */
  linkLocal: string;
  /** The router's address on the service net: Relay-Forwards leave from [serviceAddress]:547. */
  serviceAddress: string;
  /** DHCPv6 servers (unicast) each Relay-Forward is sent to; Relay-Replies are accepted only from them. */
  servers: string[];
  /** Remote-Id enterprise number (RFC 4649); Kea ignores the value and keys on the MAC after it. */
  enterpriseNumber: number;
  /** Interface-Id sent in every Relay-Forward (RFC 8415 §21.18); the server echoes it back. */
  interfaceId: string;
  /** HOP_COUNT_LIMIT (RFC 8415 §7.6). */
  hopCountLimit: number;
  /** Largest client message relayed (bytes): the Relay-Forward must fit the service link's MTU. */
  maxMessageBytes: number;
  /**
   * The pod's delegation pool: a route is installed only for a delegated prefix inside it. A Reply
   * delegating anything else (::/0, the pod /64, someone else's space) would replace a route the
   * router needs — `ip route replace` takes over a route of any protocol with the same destination.
   */
  delegationPool: string;
  /** Routing protocol number tagging the relay's routes, so it only ever touches its own. */
  routeProtocol: number;
  /** Kea's control socket, for lease6-get-all at start (reconciliation); absent: no reconciliation. */
  keaSocket?: string;
  /** The relay's own route table (prefix → link-local, MAC, expiry), kept across restarts. */
  stateFile: string;
  /** The unix control socket (counters, routes, drop-routes). */
  controlSocket: string;
}

export const RELAY_DEFAULTS = {
  lanInterface: 'lan',
  // Broadband Forum's number, as common relays use; Kea skips any 4-byte enterprise number.
  enterpriseNumber: 4491,
  interfaceId: 'lan',
  hopCountLimit: 8,
  maxMessageBytes: 1280,
  routeProtocol: 201,
} as const;

const REQUIRED = ['router', 'routerMac', 'linkAddress', 'linkLocal', 'serviceAddress', 'servers', 'delegationPool', 'stateFile', 'controlSocket'] as const;

/** Parses and completes a relay config; throws one message naming every missing field. */
export function parseRelayConfig(text: string, source = 'relay config'): RelayConfig {
  const raw = JSON.parse(text) as Partial<RelayConfig>;
  const missing = REQUIRED.filter((k) => raw[k] === undefined);
  if (missing.length) throw new Error(`${source}: missing ${missing.join(', ')}`);
  if (!Array.isArray(raw.servers) || raw.servers.length === 0) throw new Error(`${source}: servers must name at least one server`);
  try {
    Prefix.parse(String(raw.delegationPool));
  } catch (err) {
    throw new Error(`${source}: delegationPool ${(err as Error).message}`, { cause: err });
  }
  return { ...RELAY_DEFAULTS, ...raw } as RelayConfig;
}

export function loadRelayConfig(file: string): RelayConfig {
  return parseRelayConfig(readFileSync(file, 'utf8'), file);
}
