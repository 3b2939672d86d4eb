/**
 * How long the command line takes to start: `v6pod --help`, `v6pod validate <default pod>` and
 * `v6pod status` (no run named: it lists the runs and reports on the only one, or says there is
 * none or several, exit 2), each as a fresh process, medians of several runs taken round-robin so
 * that load on a shared machine falls on every variant alike:
 *
 *   compiled   `node bin/v6pod.js …`: the build in dist/ (bin/dist.js), built beforehand
 *   wrapper    `./v6pod …`: netns/setup.sh's check (its fast path), then the compiled CLI
 *   tsx        `V6POD_TSX=1 node bin/v6pod.js …`: today's sources through tsx, no build
 *   before     `node bin/v6pod.js …` of the commit before the compiled CLI (BEFORE_REF, extracted
 *              with git archive into a temp dir sharing node_modules): tsx, every verb's code loaded
 *
 * and `node -e 0` (Node's own start) and `bash netns/setup.sh` alone. Goals: each command ≤ 300 ms
 * compiled, the setup check ≤ 50 ms. Wall-clock medians (ms), and CPU medians (user + sys of the
 * child, ms: what a loaded machine's wall time hides), ratios against `node -e 0`, the load average.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, median, progress } from './_stats.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const RUNS = Number(process.env.RUNS ?? 11);
/** The last commit whose CLI ran through tsx with every verb loaded up front. */
const BEFORE_REF = process.env.BEFORE_REF ?? '268eaa02200c8662e9e9be654b9fe81359f838d9';
const POD = join(REPO, 'fixtures/pods/default.yaml');
/** The repository holding BEFORE_REF (default: this checkout; a snapshot of the sources may name another). */
const GIT = process.env.BEFORE_GIT ?? REPO;

const COMMANDS: Record<string, string[]> = { help: ['--help'], validate: ['validate', POD], status: ['status'] };

interface Variant {
  argv: (args: string[]) => string[];
  env?: Record<string, string>;
}

/** The commit before, extracted (sources only) next to the same node_modules. */
function extractBefore(): string {
  const dir = mkdtempSync(join(tmpdir(), 'v6pod-bench-cli-before-'));
  const paths = 'bin cli harness netns fixtures/pods package.json tsconfig.json';
  execFileSync('bash', ['-c', `git -C "$1" archive "$2" ${paths} | tar -x -C "$3"`, '_', GIT, BEFORE_REF, dir]);
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const before = extractBefore();
process.on('exit', () => rmSync(before, { recursive: true, force: true }));

const node = process.execPath;
const VARIANTS: Record<string, Variant> = {
  compiled: { argv: (a) => [node, join(REPO, 'bin/v6pod.js'), ...a] },
  wrapper: { argv: (a) => [join(REPO, 'v6pod'), ...a] },
  tsx: { argv: (a) => [node, join(REPO, 'bin/v6pod.js'), ...a], env: { V6POD_TSX: '1' } },
  before: { argv: (a) => [node, join(before, 'bin/v6pod.js'), ...a] },
};

/** Wall time of one run, ms, and its exit code. */
function wall(argv: string[], env?: Record<string, string>): { ms: number; code: number | null } {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: REPO, stdio: 'ignore', env: { ...process.env, ...env } });
  return { ms: performance.now() - t, code: r.status };
}

/** CPU time (user + sys) of one run and its children, ms, from bash's `times`. */
function cpu(argv: string[], env?: Record<string, string>): number {
  const r = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; times', '_', ...argv], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env } });
  const children = r.stdout.trim().split('\n').at(-1)!;
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return (secs[0]! + secs[1]!) * 1000;
}

// The build the compiled variants run (not timed: the first run after an edit builds).
execFileSync(node, [join(REPO, 'bin/dist.js'), 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
execFileSync('bash', [join(REPO, 'netns/setup.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });

const loadBefore = loadavg()[0]!;
type Sample = { wall: number[]; cpu: number[]; codes: Set<number | null> };
const samples = new Map<string, Sample>();
const sample = (key: string) => samples.get(key) ?? samples.set(key, { wall: [], cpu: [], codes: new Set() }).get(key)!;
const jobs: Array<[string, string[], Record<string, string> | undefined]> = [
  ['node -e 0', [node, '-e', '0'], undefined],
  ['setup check', ['bash', join(REPO, 'netns/setup.sh')], undefined],
];
for (const [variant, v] of Object.entries(VARIANTS)) for (const [cmd, args] of Object.entries(COMMANDS)) jobs.push([`${variant} ${cmd}`, v.argv(args), v.env]);

for (let i = 1; i <= RUNS; i++) {
  for (const [key, argv, env] of jobs) {
    const s = sample(key);
    const w = wall(argv, env);
    s.wall.push(w.ms);
    s.codes.add(w.code);
    s.cpu.push(cpu(argv, env));
  }
  progress(`round ${i}/${RUNS}`);
}

const ms = (xs: number[]) => Math.round(median(xs));
const fig = (key: string) => ({ wall_ms: ms(sample(key).wall), cpu_ms: ms(sample(key).cpu), exit: [...sample(key).codes] });
const nodeWall = median(sample('node -e 0').wall);
const nodeCpu = median(sample('node -e 0').cpu);
const variants: Record<string, Record<string, object>> = {};
for (const variant of Object.keys(VARIANTS)) {
  variants[variant] = {};
  for (const cmd of Object.keys(COMMANDS)) {
    const key = `${variant} ${cmd}`;
    variants[variant][cmd] = {
      ...fig(key),
      wall_over_node: +(median(sample(key).wall) / nodeWall).toFixed(2),
      cpu_over_node: +(median(sample(key).cpu) / nodeCpu).toFixed(2),
    };
  }
}
const worstCompiled = Math.max(...Object.keys(COMMANDS).map((c) => median(sample(`compiled ${c}`).wall)));

emit({
  bench: 'cli',
  runs: RUNS,
  node: fig('node -e 0'),
  setup_check: fig('setup check'),
  ...variants,
  before_ref: BEFORE_REF,
  goal_command_ms: 300,
  goal_setup_check_ms: 50,
  goal_command_met: worstCompiled <= 300,
  goal_setup_check_met: median(sample('setup check').wall) <= 50,
  loadavg: [+loadBefore.toFixed(2), +loadavg()[0]!.toFixed(2)],
});
