/**
 * A process's CPU priority. Where the kernel groups processes by session for scheduling
 * (autogroup, on by default here), a daemon started in its own session competes as a group of
 * its own, and its nice value counts only inside that group: the group's nice
 * (/proc/PID/autogroup) is what weighs it against the others (docs/facts.md).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers a process to `nice` (0–19): its own nice, and its session's group's where the kernel
 * has autogroups. Raising a nice value needs no privilege, so this works rootless too.
 */
export function lowerPriority(pid: number, nice: number): void {
  setPriority(pid, nice);
  const group = `/proc/${pid}/autogroup`;
  if (existsSync(group)) writeFileSync(group, `${nice}\n`);
}
