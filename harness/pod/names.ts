/**
 * Naming of everything a run creates. Every namespace is `v6p-<run>.<node>`; every link lives inside
 * those namespaces (created there directly, never in the root namespace), so the namespace prefix is
 * the per-run prefix of every kernel object and deleting a run's namespaces removes all its links.
 * State, configs, logs and PID files live in one run directory, /run/v6pod/<run>/.
 */
import { randomBytes } from 'node:crypto';

export const NS_PREFIX = 'v6p-';
export const RUN_ROOT = process.env.V6POD_RUN_ROOT ?? '/run/v6pod';
const RUN_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function namespaceName(run: string, node: string): string {
  return `${NS_PREFIX}${run}.${node}`;
}

/** The run a v6pod namespace belongs to ('.' appears in no run or node name, so this is unambiguous). */
export function runOfNamespace(ns: string): string | undefined {
  const m = /^v6p-([a-z0-9][a-z0-9-]*)\.[a-z0-9-]+$/.exec(ns);
  return m?.[1];
}

export function runDir(run: string): string {
  return `${RUN_ROOT}/${run}`;
}

export function checkRunName(run: string): string | undefined {
  return RUN_NAME.test(run) ? undefined : `run name '${run}' must be 1-31 characters of a-z, 0-9 and '-', not starting with '-'`;
}

/** A run name of its own for a one-shot run (v6pod test), so concurrent runs never collide. */
export function uniqueRunName(pod: string): string {
  return `${pod}-${randomBytes(3).toString('hex')}`;
}
