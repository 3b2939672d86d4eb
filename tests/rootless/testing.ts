/**
 * Helpers of the rootless tests: v6pod run as `nobody` (every capability dropped, a HOME and an
 * artifacts folder of its own), what the host looks like (links, routes, nftables, named
 * namespaces), and what of the user's is left (keeper, runs, processes in its user namespace).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { run } from '../../harness/os/exec.ts';
import { listRuns } from '../../netns/run-state.ts';
import { runOfNamespace } from '../../harness/pod/names.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = `${REPO}bin/v6pod.js`;
export const NOBODY_UID = 65534;
const NOBODY = [`--reuid=${NOBODY_UID}`, `--regid=${NOBODY_UID}`, '--clear-groups', '--inh-caps=-all'];

/** A HOME (and an artifacts folder inside it) that nobody owns. */
export function userHome(tag: string): string {
  const home = mkdtempSync(`${tmpdir()}/v6pod-${tag}-`);
  chmodSync(home, 0o700);
  chownSync(home, NOBODY_UID, NOBODY_UID);
  return home;
}

/** The user's state directory under that HOME (no XDG_RUNTIME_DIR is passed on). */
export function stateOf(home: string): string {
  return `${home}/.local/state/v6pod`;
}

function userArgv(home: string, args: readonly string[]): string[] {
  // env -i: nothing of root's environment (XDG_RUNTIME_DIR, V6POD_*) leaks into the user's.
  return [...NOBODY, 'env', '-i', `HOME=${home}`, `PATH=${process.env.PATH}`, 'node', CLI, ...args];
}

/** Runs `v6pod ARGS` as nobody and waits for it. */
export function asUser(home: string, args: readonly string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync('setpriv', userArgv(home, args), { cwd: REPO, encoding: 'utf8', timeout: timeoutMs });
}

/** Starts `v6pod ARGS` as nobody; setpriv execs, so the child's PID is v6pod's own. */
export function spawnAsUser(home: string, args: readonly string[]) {
  return spawn('setpriv', userArgv(home, args), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface HostView {
  links: string;
  routes: string;
  nft: string;
  namespaces: string[];
}

/** The host's network namespace as the issue compares it: links, IPv6 routes of every table, nftables, named namespaces. */
export async function hostView(): Promise<HostView> {
  const out = async (argv: string[]) => (await run(argv)).stdout;
  return {
    links: await out(['ip', '-d', 'link']),
    routes: await out(['ip', '-6', 'route', 'show', 'table', 'all']),
    nft: await out(['nft', 'list', 'ruleset']),
    namespaces: (await out(['ip', 'netns', 'list']))
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean),
  };
}

/**
 * Named namespaces that appeared on the host between two views and are not a root run's: others
 * bring root pods up on this machine meanwhile (their runs have a run directory in /run/v6pod).
 */
export function foreignNamespaces(before: HostView, after: HostView): string[] {
  const rootRuns = new Set(listRuns());
  const had = new Set(before.namespaces);
  return after.namespaces.filter((ns) => !had.has(ns) && !rootRuns.has(runOfNamespace(ns) ?? ''));
}

/** Processes of nobody's inside a user namespace other than the host's: the keeper, and whatever a run left. */
export function userNamespaceProcesses(): string[] {
  const hostUserns = readlinkSync('/proc/self/ns/user'); // the test runs as root of the host's
  const out: string[] = [];
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (statSync(`/proc/${entry}`).uid !== NOBODY_UID) continue;
      if (readlinkSync(`/proc/${entry}/ns/user`) === hostUserns) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmd) out.push(`${entry} ${cmd}`); // a zombie (empty command line) holds nothing
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** What of the user's pods is left: the keeper's PID file, run directories, processes in its user namespace. */
export function userLeftovers(home: string): string[] {
  const state = stateOf(home);
  const left: string[] = [];
  if (existsSync(`${state}/keeper.pid`)) left.push(`keeper.pid (${readFileSync(`${state}/keeper.pid`, 'utf8').trim()})`);
  if (existsSync(`${state}/runs`)) left.push(...readdirSync(`${state}/runs`).map((r) => `run directory ${r}`));
  left.push(...userNamespaceProcesses().map((p) => `process ${p}`));
  return left;
}
