/**
 * Keeps the docs honest about the tree: every repository path README.md and docs/*.md name — in
 * backticks (`harness/relay/routes.ts`, `tests/faults/`) or as a link target — must exist, and
 * nothing may point outside the repository (`../shared/…`, an absolute path to someone's checkout,
 * a link to a local file). The repository has to stand alone.
 *
 * What counts as a repository path, kept simple on purpose:
 *  - a backtick span made only of path characters whose first segment is a top-level entry of the
 *    repository (`harness/…`, `docs/…`, `README.md`), taken from the repository root;
 *  - a Markdown link target (inline, reference-style, or an HTML href/src), taken from the file's folder.
 * A path must exist in the checkout: commit a file before a doc names it.
 * Ignored: URLs and #anchors, globs (`scenarios/*.scenario.ts`), placeholders (`artifacts/<run>/`,
 * `bench/NAME.ts`), commands (anything with a space), run-time output (`artifacts/…`), and paths in
 * fenced code blocks (examples and shell scripts) — though a `../` there that leaves the repository
 * still fails.
 * Absolute paths are allowed only under the system's own folders (`/proc/sys`, `/var/lib/dhcpv6`):
 * the pod's run directory and kernel files, never a file of this repository or beside it.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/[\\/]$/, '');

/** Folders of the system (not of the repository) that docs may name: run directory, kernel, Debian. */
const SYSTEM_ROOTS = new Set(['dev', 'etc', 'lib', 'proc', 'run', 'sys', 'tmp', 'usr', 'var']);
/** Top-level entries that are not part of the repository: dependencies and run-time output. */
const NOT_REPOSITORY = new Set(['node_modules', 'artifacts']);
/** A span that is a plain path: no spaces, placeholders (<run>), globs (*), options or URLs. */
const PATH_CHARS = /^[A-Za-z0-9_.~/-]+$/;
/** A path segment standing for any name (`NAME`, `FILE.pcap`), when the path does not exist as written. */
const PLACEHOLDER = /^[A-Z][A-Z0-9_]+(\.[a-z0-9]+)?$/;

interface Problem {
  line: number;
  text: string;
  why: string;
}

function topLevelEntries(root: string): Set<string> {
  return new Set(readdirSync(root).filter((e) => !e.startsWith('.') && !NOT_REPOSITORY.has(e)));
}

/** The text with fenced code blocks blanked out (line numbers kept). */
function withoutFences(text: string): string {
  return text.replace(/^( {0,3})(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ''));
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

const inside = (root: string, abs: string) => abs === root || abs.startsWith(root + sep);

function exists(abs: string, wantDirectory: boolean): boolean {
  if (!existsSync(abs)) return false;
  return !wantDirectory || statSync(abs).isDirectory();
}

/** A backtick span, read from the repository root. */
function checkSpan(root: string, top: ReadonlySet<string>, span: string): string | undefined {
  const s = span.trim();
  if (!PATH_CHARS.test(s)) return undefined;
  if (s.startsWith('~')) return 'is a path outside the repository (a home folder)';
  if (s.startsWith('../')) return 'points outside the repository';
  if (s.startsWith('/')) {
    const first = s.split('/')[1] ?? '';
    return SYSTEM_ROOTS.has(first) ? undefined : 'is an absolute path: name repository files relative to its root';
  }
  const path = s.replace(/^\.\//, '');
  const segments = path.split('/');
  if (!top.has(segments[0]!)) return undefined;
  if (exists(join(root, path), path.endsWith('/'))) return undefined;
  // `bench/NAME.ts`: an upper-case word stands for any name, as in `v6pod up [FILE]`.
  const placeholder = segments.some((x, i) => PLACEHOLDER.test(x) && !existsSync(join(root, ...segments.slice(0, i + 1))));
  return placeholder ? undefined : 'does not exist in the repository';
}

/** A link target, read from the folder of the file that holds it. */
function checkLink(root: string, fileDir: string, target: string): string | undefined {
  const t = target.trim().replace(/^<|>$/g, '');
  if (t === '' || t.startsWith('#') || /^(https?|mailto):/i.test(t)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(t)) return 'links to a local file or an unknown scheme: link repository files by relative path';
  if (t.startsWith('/') || t.startsWith('~')) return 'links to an absolute path outside the repository';
  const path = decodeURIComponent(t.replace(/[#?].*$/, ''));
  const abs = resolve(fileDir, path);
  if (!inside(root, abs)) return 'points outside the repository';
  return exists(abs, path.endsWith('/')) ? undefined : 'does not exist in the repository';
}

/** Every problem with the paths `text` (the file at `file`, relative to `root`) names. */
function pathProblems(root: string, file: string, text: string): Problem[] {
  const top = topLevelEntries(root);
  const fileDir = dirname(join(root, file));
  const problems: Problem[] = [];
  const prose = withoutFences(text);
  for (const m of prose.matchAll(/(`+)([^`\n]+?)\1(?!`)/g)) {
    const why = checkSpan(root, top, m[2]!);
    if (why) problems.push({ line: lineOf(prose, m.index), text: `\`${m[2]}\``, why });
  }
  const links = [
    ...prose.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g),
    ...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*(\S+)/gm),
    ...prose.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g),
  ];
  for (const m of links) {
    const why = checkLink(root, fileDir, m[1]!);
    if (why) problems.push({ line: lineOf(prose, m.index), text: m[1]!, why });
  }
  // Fenced blocks too: no `../` that leaves the repository, whatever the context.
  for (const m of text.matchAll(/(?<![\w.])((?:\.\.\/)+[^\s`'"()[\]<>]*)/g)) {
    if (!inside(root, resolve(fileDir, m[1]!)) && !problems.some((p) => p.line === lineOf(text, m.index) && p.text.includes(m[1]!))) {
      problems.push({ line: lineOf(text, m.index), text: m[1]!, why: 'points outside the repository' });
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}

function docFiles(root: string): string[] {
  return [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
}

describe('paths named in README.md and docs/*.md', () => {
  for (const file of docFiles(ROOT)) {
    it(`${file}: every repository path exists, none points outside the repository`, () => {
      const problems = pathProblems(ROOT, file, readFileSync(join(ROOT, file), 'utf8'));
      expect(problems.map((p) => `${file}:${p.line}: ${p.text} ${p.why}`)).to.deep.equal([]);
    });
  }

  describe('the scan itself', () => {
    const scan = (text: string, file = 'docs/example.md') => pathProblems(ROOT, file, text).map((p) => `${p.text} ${p.why}`);

    it('accepts existing files and folders, by backticks from the root and by links from the file', () => {
      expect(
        scan('See `harness/report/`, `docs/`, `README.md`, [the README](../README.md) and [this test](../harness/report/docs-paths.test.ts#L1).'),
      ).to.deep.equal([]);
      expect(scan('[docs](docs/) and `package.json`', 'README.md')).to.deep.equal([]);
    });

    it('names each path that does not exist', () => {
      expect(scan('`harness/relay/no-such-file.ts` and `tests/no-such-folder/` and [gone](gone.md)')).to.deep.equal([
        '`harness/relay/no-such-file.ts` does not exist in the repository',
        '`tests/no-such-folder/` does not exist in the repository',
        'gone.md does not exist in the repository',
      ]);
      expect(scan('`README.md/`'), 'a file named as a folder').to.have.length(1);
    });

    it('refuses paths and links leading outside the repository', () => {
      expect(scan('See `../shared/DESIGN.md`.', 'README.md')).to.deep.equal(['`../shared/DESIGN.md` points outside the repository']);
      expect(scan('[design](../../shared/DESIGN.md)')).to.deep.equal(['../../shared/DESIGN.md points outside the repository']);
      expect(scan('[design](/work/shared/DESIGN.md)')).to.deep.equal(['/work/shared/DESIGN.md links to an absolute path outside the repository']);
      expect(scan('[design](file:///work/shared/DESIGN.md)')).to.have.length(1);
      expect(scan('`/home/dev/v6pod/docs/status.md` and `~/notes.md`')).to.have.length(2);
      expect(scan('```sh\ncat ../shared/DESIGN.md\n```\n', 'README.md')).to.deep.equal(['../shared/DESIGN.md points outside the repository']);
    });

    it('ignores URLs, anchors, globs, placeholders, commands, system paths, run-time output and code blocks', () => {
      const text = [
        '[RFC 8415](https://www.rfc-editor.org/rfc/rfc8415) [up](#quick-start) `scenarios/*.scenario.ts` `artifacts/<run>/`',
        '`bench/NAME.ts` `fixtures/pods/FILE.yaml` `v6pod test --pod fixtures/pods/none.yaml`',
        '`/proc/sys` `/var/lib/dhcpv6` `/run/v6pod/<run>/` `artifacts/bench-scale.svg` `tx/tso/gso` `ip6/inet` `ff02::1:2` `2001:db8::/32`',
        '```json',
        '{ "podFile": "fixtures/pods/none.yaml" }',
        '```',
      ].join('\n');
      expect(scan(text)).to.deep.equal([]);
    });
  });
});
