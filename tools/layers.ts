/**
 * The layer check of `npm run lint`: one dependency-cruiser run over the source folders with the
 * rules of .dependency-cruiser.cjs (layers, module cycles), plus the check those rules cannot
 * express: no two folders import each other (a folder cycle), even through different files.
 *
 * Why not depcruise's own folder rule (`scope: 'folder'`, `to.circular`): it names the folder an
 * import lands in by the imported file's own directory, so harness/relay importing
 * harness/synth/testing/ while harness/synth imports harness/relay is not seen as a cycle; and its
 * message names no import to go and fix. Here a folder includes its subfolders.
 *
 * Run as `node --import tsx tools/layers.ts` (from `npm run lint`); exits 1 on any violation, each
 * reported on one line that names the rule and an import (file → file). tests/layers runs
 * checkLayers on planted trees.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

/** The repository, whose layer rules these are. */
export const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The one config: lint and tests/layers both read this file. */
export const CONFIG = join(REPO, '.dependency-cruiser.cjs');
/** The folders the check cruises (those that exist under the base directory). */
export const SOURCE_FOLDERS = ['harness', 'netns', 'cli', 'scenarios', 'tests', 'bench', 'fixtures'];

/**
 * Folders that hold layers rather than being one: harness/addr and harness/probe are two folders
 * (netns/ sits between them), not two parts of one folder `harness`.
 */
const UMBRELLAS = new Set(['harness']);

/** One import: from a module to a module, paths relative to the base directory. */
export interface Import {
  from: string;
  to: string;
}

/** Folders that import each other in a ring: imports[i] goes from folders[i] to folders[i + 1] (and the last back to the first). */
export interface FolderCycle {
  folders: string[];
  imports: Import[];
}

export interface LayerCheck {
  /** No rule violation and no folder cycle. */
  ok: boolean;
  /** Rule violations, as depcruise found them (rule name, importing module, imported module or cycle). */
  violations: { rule: string; from: string; to: string }[];
  folderCycles: FolderCycle[];
  /** What to print: one line per rule violation (`error <rule>: <file> → <file>`), one per folder cycle, a summary. */
  report: string;
}

/**
 * The folders a file is in, outermost first, an umbrella merged with the folder below it:
 * harness/relay/testing/x.ts is in harness/relay, then harness/relay/testing.
 */
function foldersOf(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  const folders: string[] = [];
  let path = '';
  for (const part of parts) {
    path = path ? `${path}/${part}` : part;
    if (!UMBRELLAS.has(path)) folders.push(path);
  }
  // A file directly in an umbrella folder: the umbrella is its folder.
  if (folders.length === 0 && parts.length > 0) folders.push(parts.join('/'));
  return folders;
}

/**
 * The two folders an import joins, if it joins two: below the deepest folder both files are in,
 * the subfolder each is in. None if either file lies directly in that shared folder (a folder and
 * its own subfolder are one folder seen from outside, so netns/ and netns/daemons/ importing each
 * other is no folder cycle).
 */
export function foldersJoined({ from, to }: Import): [string, string] | undefined {
  const a = foldersOf(from);
  const b = foldersOf(to);
  let shared = 0;
  while (shared < a.length && shared < b.length && a[shared] === b[shared]) shared += 1;
  const fromFolder = a[shared];
  const toFolder = b[shared];
  return fromFolder && toFolder ? [fromFolder, toFolder] : undefined;
}

/**
 * Folder cycles in a cruise result: folder A imports folder B (some file under A imports some file
 * under B) and B imports A again, directly or through other folders. Every import between project
 * files counts, type-only and dynamic ones too; npm packages and node builtins are not folders.
 * One cycle per folder that is in one (the shortest), each ring reported once.
 */
export function findFolderCycles(result: ICruiseResult): FolderCycle[] {
  // folder -> folder it imports -> the first import (in path order) that does it
  const edges = new Map<string, Map<string, Import>>();
  const imports: Import[] = [];
  for (const module of result.modules) {
    for (const dependency of module.dependencies) {
      if (dependency.coreModule || dependency.couldNotResolve) continue;
      if (dependency.resolved.startsWith('node_modules/') || module.source.startsWith('node_modules/')) continue;
      imports.push({ from: module.source, to: dependency.resolved });
    }
  }
  imports.sort((x, y) => x.from.localeCompare(y.from) || x.to.localeCompare(y.to));
  for (const edge of imports) {
    const joined = foldersJoined(edge);
    if (!joined) continue;
    const [from, to] = joined;
    const out = edges.get(from) ?? new Map<string, Import>();
    if (!out.has(to)) out.set(to, edge);
    edges.set(from, out);
  }

  const cycles: FolderCycle[] = [];
  const seen = new Set<string>();
  for (const start of [...edges.keys()].sort()) {
    const ring = shortestRing(edges, start);
    if (!ring) continue;
    // The same ring found from another of its folders: report it once.
    const key = [...ring].sort().join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    cycles.push({
      folders: ring,
      imports: ring.map((folder, i) => edges.get(folder)!.get(ring[(i + 1) % ring.length]!)!),
    });
  }
  return cycles;
}

/** The shortest ring of folders from start back to start (breadth first), if there is one. */
function shortestRing(edges: Map<string, Map<string, Import>>, start: string): string[] | undefined {
  const cameFrom = new Map<string, string>();
  let frontier = [start];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const folder of frontier) {
      for (const to of [...(edges.get(folder)?.keys() ?? [])].sort()) {
        if (to === start) {
          const ring = [folder];
          while (ring[0] !== start) ring.unshift(cameFrom.get(ring[0]!)!);
          return ring;
        }
        if (cameFrom.has(to)) continue;
        cameFrom.set(to, folder);
        next.push(to);
      }
    }
    frontier = next;
  }
  return undefined;
}

const FOLDER_CYCLE = 'folder-cycle';
const FOLDER_CYCLE_COMMENT = 'No two folders import each other, directly or through other folders, even through different files (tools/layers.ts).';

/** One line: `error folder-cycle: a → b → a (a/x.ts → b/y.ts; b/z.ts → a/w.ts)`. */
export function formatFolderCycle({ folders, imports }: FolderCycle): string {
  const ring = [...folders, folders[0]].join(' → ');
  const evidence = imports.map(({ from, to }) => `${from} → ${to}`).join('; ');
  return `  error ${FOLDER_CYCLE}: ${ring} (${evidence})`;
}

/**
 * Cruises the source folders under baseDir (the repository by default) with the rules of
 * .dependency-cruiser.cjs and looks for folder cycles. baseDir's tsconfig.json (the config names
 * it) is used for resolution when it has one.
 */
export async function checkLayers(baseDir: string = REPO): Promise<LayerCheck> {
  const options = await extractDepcruiseOptions(CONFIG);
  // The config names tsconfig.json relative to where depcruise runs: here, baseDir.
  const tsConfigFile = join(baseDir, options.tsConfig?.fileName ?? 'tsconfig.json');
  const hasTsConfig = existsSync(tsConfigFile);
  const { tsConfig: _named, ...rest } = options;
  const folders = SOURCE_FOLDERS.filter((folder) => existsSync(join(baseDir, folder)));
  // No outputType: the result comes back as an object (depcruise's identity reporter).
  const cruised = await cruise(
    folders,
    hasTsConfig ? { ...rest, baseDir, tsConfig: { fileName: tsConfigFile } } : { ...rest, baseDir },
    {},
    hasTsConfig ? { tsConfig: extractTSConfig(tsConfigFile) } : {},
  );
  const result = cruised.output as ICruiseResult;

  const violations = result.summary.violations.map((violation) => ({
    rule: violation.rule.name,
    from: violation.from,
    // A cycle is reported from one of its modules: `to` is the rest of the ring, back to `from`.
    to: violation.cycle ? violation.cycle.map(({ name }) => name).join(' → ') : violation.to,
  }));
  const folderCycles = findFolderCycles(result);
  const lines = [...violations.map(({ rule, from, to }) => `  error ${rule}: ${from} → ${to}`), ...folderCycles.map(formatFolderCycle)];
  if (lines.length > 0) {
    // Each broken rule once, with the sentence that states it.
    const comments = new Map((options.ruleSet?.forbidden ?? []).map((rule) => [rule.name, rule.comment]));
    const broken = [...new Set(violations.map(({ rule }) => rule))];
    if (folderCycles.length > 0) broken.push(FOLDER_CYCLE);
    lines.push('', ...broken.map((rule) => `  ${rule}: ${rule === FOLDER_CYCLE ? FOLDER_CYCLE_COMMENT : (comments.get(rule) ?? '')}`));
    lines.push(
      '',
      `x ${violations.length} dependency violation(s), ${folderCycles.length} folder cycle(s) ` +
        `(rules: ${relative(process.cwd(), CONFIG) || CONFIG}). ${result.summary.totalCruised} modules cruised.`,
    );
  }
  const ok = result.summary.error === 0 && result.summary.warn === 0 && folderCycles.length === 0;
  return { ok, violations, folderCycles, report: lines.join('\n') };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = await checkLayers();
  if (check.report) console.log(check.report);
  if (!check.ok) process.exitCode = 1;
}
