/** radvd on a router's LAN: the pod /64 for SLAAC (A=1, L=1), M=0, O=1 (seed, docs/facts.md). */
import { writeFileSync } from 'node:fs';
import type { Plan, RouterPlan } from '../../harness/pod/plan.ts';
import type { DaemonRecord } from '../run-state.ts';
import { runDir } from '../../harness/pod/names.ts';
import { startDaemon } from './process.ts';

/**
 * Seconds between multicast RAs answering RSs. Every such RA floods to every instance port, and
 * the instances boot over a time that grows with their number, so at a fixed rate the flood grows
 * with the square of the pod: 1.3-1.6 M frames to ports at 5,000 instances with 0.05 s (docs/facts.md).
 * Growing with the pod (N / 2,000 s, between 0.05 s and RFC 4861's 3 s) keeps it linear; each
 * instance still hears an answer before its next RS (4 s), and a pod of up to 100 instances keeps
 * answering within MAX_RA_DELAY_TIME (SLAAC-004).
 */
export function minDelayBetweenRAs(instances: number): number {
  return Math.min(3, Math.max(0.05, instances / 2000));
}

/**
 * AdvIntervalOpt (RFC 6275 §7.3, ignored by hosts) is what lets radvd go below its 3 s
 * MinDelayBetweenRAs; with solicited RAs multicast, one RA answers every instance that came up
 * together instead of each RS waiting out the rate limit (measured: 1.0 s instead of 4-5 s).
 */
export function radvdConfig(plan: Plan): string {
  return `interface lan {
  AdvSendAdvert on;
  MinRtrAdvInterval 30;
  MaxRtrAdvInterval 60;
  AdvIntervalOpt on;
  MinDelayBetweenRAs ${minDelayBetweenRAs(plan.instances.length)};
  AdvRASolicitedUnicast off;
  AdvManagedFlag off;
  AdvOtherConfigFlag on;
  AdvDefaultLifetime 180;
  prefix ${plan.pod.pod.l2Prefix} {
    AdvOnLink on;
    AdvAutonomous on;
  };
};
`;
}

export async function startRadvd(plan: Plan, router: RouterPlan): Promise<DaemonRecord> {
  const dir = runDir(plan.run);
  const conf = `${dir}/radvd-${router.name}.conf`;
  writeFileSync(conf, radvdConfig(plan));
  const log = `${dir}/radvd-${router.name}.log`;
  return startDaemon({
    name: 'radvd',
    node: router.name,
    ns: router.ns,
    // A PID file of each start's own: after a crash radvd's privsep child lingers a moment holding the old one.
    argv: ['radvd', '--nodaemon', '-C', conf, '-p', `${dir}/radvd-${router.name}.${Date.now()}.pid`, '-m', 'logfile', '-l', log],
    // radvd's own log and anything it prints on stdout/stderr go to one file (both append).
    log,
  });
}
