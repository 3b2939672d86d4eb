/**
 * v6pod's DHCPv6 relay agent (harness/relay/) in a router's namespace: config rendered from the
 * plan (LAN link-address and link-local, service address, Kea as the server, Kea's control socket
 * for reconciliation), route table, log and control socket in the run directory. The control
 * socket speaks Kea's dialect, so `relayCommand` is keaCommand pointed at it.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plan, RouterPlan } from '../../harness/pod/plan.ts';
import type { DaemonRecord } from '../run-state.ts';
import { runDir } from '../../harness/pod/names.ts';
import { assertAlive, startDaemon } from './process.ts';
import { keaCommand, type KeaAnswer } from '../../harness/os/control-socket.ts';
import { keaPaths } from '../../harness/control/kea-config.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { nodeArgv } from '../../harness/os/runnable.ts';
import { RELAY_DEFAULTS, type RelayConfig } from '../../harness/relay/config.ts';

export interface RelayOptions {
  /** Remote-Id enterprise number (default 4491). */
  enterpriseNumber?: number;
  /** Servers to relay to (default: the pod's Kea). */
  servers?: string[];
  /** Skip reconciliation with Kea's leases at start. */
  noReconcile?: boolean;
  readyTimeoutMs?: number;
}

export function relayPaths(run: string, router: string) {
  const dir = runDir(run);
  return {
    config: `${dir}/relay-${router}.json`,
    socket: `${dir}/relay-${router}.sock`,
    state: `${dir}/relay-${router}.routes.json`,
    log: `${dir}/relay-${router}.log`,
  };
}

export function relayConfig(plan: Plan, router: RouterPlan, opts: RelayOptions = {}): RelayConfig {
  const p = relayPaths(plan.run, router.name);
  return {
    ...RELAY_DEFAULTS,
    router: router.name,
    routerMac: router.mac.toLowerCase(),
    linkAddress: router.lanAddress,
    linkLocal: router.linkLocal,
    serviceAddress: router.serviceAddress,
    servers: opts.servers ?? [plan.kea.address],
    delegationPool: plan.pod.pod.pdPool,
    enterpriseNumber: opts.enterpriseNumber ?? RELAY_DEFAULTS.enterpriseNumber,
    ...(opts.noReconcile ? {} : { keaSocket: keaPaths(plan.run).socket }),
    stateFile: p.state,
    controlSocket: p.socket,
  };
}

const MAIN = fileURLToPath(new URL('../../harness/relay/main.ts', import.meta.url));

/** Starts the relay in the router's namespace; resolves once its control socket answers. */
export async function startRelay(plan: Plan, router: RouterPlan, opts: RelayOptions = {}): Promise<DaemonRecord> {
  const p = relayPaths(plan.run, router.name);
  writeFileSync(p.config, `${JSON.stringify(relayConfig(plan, router, opts), null, 2)}\n`);
  const record = await startDaemon({
    name: 'dhcp6-relay',
    node: router.name,
    ns: router.ns,
    argv: [...nodeArgv(MAIN), '--config', p.config],
    log: p.log,
  });
  await waitUntil(
    async () => {
      assertAlive(record);
      return (await relayCommand(p.socket, 'list-commands').catch(() => undefined))?.result === 0;
    },
    { timeoutMs: opts.readyTimeoutMs ?? 15_000, what: `the relay on ${router.name} to answer on ${p.socket} (log ${p.log})` },
  );
  return record;
}

export function relayCommand(
  socket: string,
  command: 'counters' | 'routes' | 'drop-routes' | 'list-commands',
  args?: object,
  timeoutMs = 5000,
): Promise<KeaAnswer> {
  return keaCommand(socket, command, args, timeoutMs);
}
