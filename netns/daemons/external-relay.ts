/**
 * The user's DHCPv6 relay (pod file `relay: external` with `relayCommand`, or `v6pod test --relay
 * external --relay-command CMD`), run on each router under the contract of docs/relays.md: the
 * command, split on whitespace (no shell), runs in the router's namespace in the foreground as a
 * daemon of the run; what it is given is one JSON file (V6POD_RELAY_CONFIG) and the same facts as
 * environment variables; it is ready once it listens on UDP 547 and is stopped by SIGTERM to its
 * process group.
 */
import { writeFileSync } from 'node:fs';
import type { Plan, RouterPlan } from '../../harness/pod/plan.ts';
import type { DaemonRecord } from '../run-state.ts';
import { runDir } from '../../harness/pod/names.ts';
import { startDaemon } from './process.ts';
import { waitRelayListening } from './relay-ready.ts';
import { RELAY_DAEMON } from './dhcrelay.ts';

/** Contract version of docs/relays.md. */
export const RELAY_CONTRACT_VERSION = 1;

/** What the command is given (docs/relays.md), as JSON in V6POD_RELAY_CONFIG. */
export interface ExternalRelayRequest {
  version: number;
  run: string;
  router: string;
  namespace: string;
  /** The clients' side: the LAN interface, the router's global LAN address (the link-address Kea picks the subnet by), its link-local and MAC. */
  lower: { interface: string; linkAddress: string; linkLocal: string; mac: string };
  /** The server's side: the interface towards Kea, the router's address on it, Kea's address. */
  upper: { interface: string; address: string; server: string };
  /** Every delegated prefix is carved from this pool: route what Kea delegates inside it, refuse anything outside. */
  delegationPool: string;
  delegatedLength: number;
  /** The routes must carry this protocol number (v6pod's checks read `ip -6 route show proto 201 dev lan`). */
  routeProtocol: number;
  /** A directory of the run for the command's own files (PID file, state, log). */
  runDir: string;
}

export function externalRelayPaths(run: string, router: string) {
  const dir = runDir(run);
  return { config: `${dir}/relay-external-${router}.json`, log: `${dir}/relay-external-${router}.log` };
}

export function externalRelayRequest(plan: Plan, router: RouterPlan): ExternalRelayRequest {
  return {
    version: RELAY_CONTRACT_VERSION,
    run: plan.run,
    router: router.name,
    namespace: router.ns,
    lower: { interface: 'lan', linkAddress: router.lanAddress, linkLocal: router.linkLocal, mac: router.mac.toLowerCase() },
    upper: { interface: 'svc', address: router.serviceAddress, server: plan.kea.address },
    delegationPool: plan.pod.pod.pdPool,
    delegatedLength: plan.pod.pod.delegatedLength,
    routeProtocol: 201,
    runDir: runDir(plan.run),
  };
}

/** The environment the command runs with: the request's facts one by one, and the JSON file's path. */
export function externalRelayEnv(req: ExternalRelayRequest, configPath: string): Record<string, string> {
  return {
    V6POD_RELAY_CONFIG: configPath,
    V6POD_RELAY_VERSION: String(req.version),
    V6POD_RELAY_ROUTER: req.router,
    V6POD_RELAY_LOWER: req.lower.interface,
    V6POD_RELAY_LINK_ADDRESS: req.lower.linkAddress,
    V6POD_RELAY_LINK_LOCAL: req.lower.linkLocal,
    V6POD_RELAY_UPPER: req.upper.interface,
    V6POD_RELAY_SERVICE_ADDRESS: req.upper.address,
    V6POD_RELAY_SERVER: req.upper.server,
    V6POD_RELAY_POOL: req.delegationPool,
    V6POD_RELAY_DELEGATED_LENGTH: String(req.delegatedLength),
    V6POD_RELAY_ROUTE_PROTOCOL: String(req.routeProtocol),
    V6POD_RELAY_RUN_DIR: req.runDir,
  };
}

export function externalRelayArgv(command: string): string[] {
  const argv = command.trim().split(/\s+/).filter(Boolean);
  if (!argv.length) throw new Error('relay: external needs a command (relayCommand, or --relay-command)');
  return argv;
}

/** Starts the user's relay command in the router's namespace; resolves once it listens on UDP 547. */
export async function startExternalRelay(plan: Plan, router: RouterPlan, command: string, readyTimeoutMs = 15_000): Promise<DaemonRecord> {
  const p = externalRelayPaths(plan.run, router.name);
  const req = externalRelayRequest(plan, router);
  writeFileSync(p.config, `${JSON.stringify(req, null, 2)}\n`);
  const argv = externalRelayArgv(command);
  // A script's command line is its interpreter's: the command is known by PID and start time (launch).
  const record = await startDaemon({
    name: RELAY_DAEMON,
    node: router.name,
    ns: router.ns,
    argv,
    launch: argv,
    log: p.log,
    env: externalRelayEnv(req, p.config),
  });
  return waitRelayListening(record, `the relay command '${command}' on ${router.name}`, readyTimeoutMs);
}
