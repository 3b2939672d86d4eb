/**
 * The synthetic-instance host daemon (harness/synth/host-main.ts) in a hypervisor's namespace: one
 * per hypervisor, serving every synthetic instance's TAP there. Config, control socket and log in
 * the run directory; the control socket speaks Kea's dialect, so `synthCommand` is keaCommand
 * pointed at it (commands: harness/synth/control.ts).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InstancePlan, Plan } from '../../harness/pod/plan.ts';
import type { DaemonRecord } from '../run-state.ts';
import { namespaceName, runDir } from '../../harness/pod/names.ts';
import { BRIDGES } from '../../harness/pod/plan.ts';
import { assertAlive, startDaemon } from './process.ts';
import { keaCommand, type KeaAnswer } from '../../harness/os/control-socket.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { nodeArgv } from '../../harness/os/runnable.ts';
import type { SynthHostConfig, SynthInstance } from '../../harness/synth/host-config.ts';
import type { SynthCommand } from '../../harness/synth/control.ts';

export type { SynthInstance } from '../../harness/synth/host-config.ts';

export interface SynthHostOptions {
  readyTimeoutMs?: number;
  /** The most each PD client's first Solicit waits, at random (RFC 8415 §18.2.1); default 0: at once. */
  firstSolicitDelayMs?: number;
}

export function synthPaths(run: string, hypervisor: string) {
  const dir = runDir(run);
  return {
    config: `${dir}/synth-${hypervisor}.json`,
    socket: `${dir}/synth-${hypervisor}.sock`,
    log: `${dir}/synth-${hypervisor}.log`,
  };
}

/** What the host daemon needs of a planned instance: one IA_PD per reserved prefix (IAIDs 1..N, as the dhcp6c actor uses). */
export function synthInstance(inst: InstancePlan): SynthInstance {
  return { name: inst.name, mac: inst.mac, port: inst.port, iaids: Array.from({ length: Math.max(1, inst.prefixes) }, (_, i) => i + 1), dhcp: inst.dhcp };
}

export function synthHostConfig(plan: Plan, hypervisor: string, instances: readonly SynthInstance[], opts: SynthHostOptions = {}): SynthHostConfig {
  return {
    hypervisor,
    bridge: BRIDGES.hypervisor,
    controlSocket: synthPaths(plan.run, hypervisor).socket,
    dad: plan.pod.pod.dad,
    ...(opts.firstSolicitDelayMs !== undefined ? { firstSolicitDelayMs: opts.firstSolicitDelayMs } : {}),
    // A snooping Linux bridge floods MLDv2 reports to every port (N reports × N ports) and sends
    // MLDv1 reports to its router ports only: where the pod snoops, the instances report in MLDv1.
    ...(plan.pod.pod.mldSnooping ? { mldVersion: 1 as const } : {}),
    instances: [...instances],
  };
}

const MAIN = fileURLToPath(new URL('../../harness/synth/host-main.ts', import.meta.url));
/**
 * The daemon answers once every TAP is attached; a few ms per instance on top of Node's start. A
 * bound, not a wait: `up` starts one per hypervisor at once, and at 5,000 instances twenty Node
 * processes starting together on two cores took over 25 s (bench/scale.ts).
 */
const READY_BASE_MS = 60_000;
const READY_PER_INSTANCE_MS = 40;

/**
 * The synthetic hosts stand for guests on machines of their own: their load yields to the pod's
 * daemons (Kea, the relays, radvd), or thousands of instances booting on two cores starve Kea and
 * the run measures this machine's scheduler instead of the pod (docs/facts.md).
 */
const SYNTH_NICE = 19;

/** Starts the host daemon in the hypervisor's namespace; resolves once its control socket answers (every TAP attached). */
export async function startSynthHost(plan: Plan, hypervisor: string, instances: readonly SynthInstance[], opts: SynthHostOptions = {}): Promise<DaemonRecord> {
  const p = synthPaths(plan.run, hypervisor);
  writeFileSync(p.config, `${JSON.stringify(synthHostConfig(plan, hypervisor, instances, opts), null, 2)}\n`);
  const record = await startDaemon({
    name: 'synth-host',
    node: hypervisor,
    ns: namespaceName(plan.run, hypervisor),
    argv: [...nodeArgv(MAIN), '--config', p.config],
    log: p.log,
    nice: SYNTH_NICE,
  });
  await waitUntil(
    async () => {
      assertAlive(record);
      return (await synthCommand(p.socket, 'list-commands').catch(() => undefined))?.result === 0;
    },
    {
      timeoutMs: opts.readyTimeoutMs ?? READY_BASE_MS + READY_PER_INSTANCE_MS * instances.length,
      what: `the synthetic host on ${hypervisor} to answer on ${p.socket} (log ${p.log})`,
      intervalMs: 50,
    },
  );
  return record;
}

export function synthCommand(socket: string, command: SynthCommand, args?: object, timeoutMs = 10_000): Promise<KeaAnswer> {
  return keaCommand(socket, command, args, timeoutMs);
}
