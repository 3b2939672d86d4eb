/**
 * The layers of v6pod, enforced by `npm run lint` (through tools/layers.ts, which also checks
 * folder cycles; `npx depcruise --config .dependency-cruiser.cjs harness netns cli scenarios tests
 * bench fixtures` runs the same rules on their own).
 *
 * Folders, ground first; each may import only the folders listed with it:
 *
 *   harness/addr     nothing in the project
 *   harness/os       nothing in the project
 *   harness/packet   addr
 *   harness/pod      addr, os
 *   harness/io       addr, os, packet
 *   harness/control  addr, os, packet, pod
 *   harness/relay    addr, os, packet, pod, io
 *   harness/synth    addr, os, packet, pod, io
 *   harness/sg       addr, os, packet, pod, control
 *   netns            the harness folders above (not probe, not report)
 *   harness/probe    all of the above and netns
 *   harness/report   all of the above, netns and probe
 *   cli              harness and netns
 *   scenarios        only harness/probe (the scenario API), harness/packet and harness/addr
 *   tests, bench, fixtures   anything
 *
 * A folder includes its subfolders: harness/x/testing/ and *.test.ts files follow harness/x's rules,
 * netns/daemons/ follows netns/, scenarios/scale/ follows scenarios/. Type-only imports count
 * (tsPreCompilationDeps): a layer is about what a module knows, not what it emits.
 *
 * Each violation is reported by one rule: the layer rules below leave out imports of cli/ and of
 * tests/, bench/, fixtures/, which library-never-imports-cli and source-never-imports-test-code
 * report instead.
 */

/** The harness layers, ground first, with the harness folders each may import. */
const HARNESS_LAYERS = [
  { layer: 'addr', may: [], name: 'layer-addr-imports-nothing' },
  { layer: 'os', may: [], name: 'layer-os-imports-nothing' },
  { layer: 'packet', may: ['addr', 'os'], name: 'layer-packet-imports-only-addr-os' },
  { layer: 'pod', may: ['addr', 'os'], name: 'layer-pod-imports-only-addr-os' },
  { layer: 'io', may: ['addr', 'os', 'packet'], name: 'layer-io-imports-only-addr-os-packet' },
  { layer: 'control', may: ['addr', 'os', 'packet', 'pod'], name: 'layer-control-imports-only-addr-os-packet-pod' },
  { layer: 'relay', may: ['addr', 'os', 'packet', 'pod', 'io'], name: 'layer-relay-imports-only-addr-os-packet-pod-io' },
  { layer: 'synth', may: ['addr', 'os', 'packet', 'pod', 'io'], name: 'layer-synth-imports-only-addr-os-packet-pod-io' },
  { layer: 'sg', may: ['addr', 'os', 'packet', 'pod', 'control'], name: 'layer-sg-imports-only-addr-os-packet-pod-control' },
];

/** The harness folders netns/ may use: every harness layer below probe and report. */
const BELOW_NETNS = HARNESS_LAYERS.map(({ layer }) => layer);

/** `^(a|b)/`: a path in one of these folders (or their subfolders). */
const inFolders = (folders) => `^(${folders.join('|')})/`;
const harness = (layers) => layers.map((layer) => `harness/${layer}`);

/** Imports the shared rules report, so the layer rules leave them out. */
const CLI = inFolders(['cli']);
const TEST_CODE = inFolders(['tests', 'bench', 'fixtures']);

/**
 * A layer rule: a module in `folder` imports a project module outside `folder` and outside `may`.
 * "Project module" = resolved, not a node builtin, not under node_modules (npm packages are not
 * layers); imports that do not resolve are not-to-unresolvable's.
 */
function layerRule(name, folder, may, comment, alsoLeaveOut = [CLI]) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: inFolders([folder]) },
    to: {
      pathNot: [inFolders([folder, ...may, 'node_modules']), TEST_CODE, ...alsoLeaveOut],
      dependencyTypesNot: ['core'],
      couldNotResolve: false,
    },
  };
}

const harnessLayerRules = HARNESS_LAYERS.map(({ layer, may, name }) =>
  layerRule(
    name,
    `harness/${layer}`,
    harness(may),
    may.length === 0
      ? `harness/${layer} is ground: it imports nothing else in the project (only node builtins and npm packages).`
      : `harness/${layer} imports only ${may.map((m) => `harness/${m}`).join(', ')} of the project: ` +
          'a higher layer (or a sibling) would make it depend on what is built on it.',
  ),
);

module.exports = {
  forbidden: [
    ...harnessLayerRules,
    layerRule(
      'layer-netns-imports-only-harness-below-probe',
      'netns',
      harness(BELOW_NETNS),
      `netns/ realizes pods from the harness layers below it (${BELOW_NETNS.join(', ')}); ` +
        'it never imports harness/probe or harness/report, which are built on netns/.',
    ),
    layerRule(
      'layer-probe-imports-only-lower-layers-and-netns',
      'harness/probe',
      [...harness(BELOW_NETNS), 'netns'],
      'harness/probe (the scenario API) imports the harness layers below it and netns/, never harness/report.',
    ),
    layerRule(
      'layer-report-imports-only-lower-layers-netns-probe',
      'harness/report',
      [...harness([...BELOW_NETNS, 'probe']), 'netns'],
      'harness/report imports the harness layers, netns/ and harness/probe: it is the top of the library.',
    ),
    layerRule(
      'layer-cli-imports-only-harness-netns',
      'cli',
      ['harness', 'netns'],
      'cli/ is built on harness/ and netns/ only; it runs scenarios by path, never imports scenario source.',
      [],
    ),
    layerRule(
      'scenarios-use-the-scenario-api',
      'scenarios',
      harness(['probe', 'packet', 'addr']),
      'scenarios import only the scenario API (harness/probe) and the ground codecs (harness/packet, harness/addr), ' +
        'never netns/, harness/os, pod, control, sg, relay or synth directly.',
      [],
    ),
    {
      name: 'library-never-imports-cli',
      severity: 'error',
      comment: 'Nothing in harness/ or netns/ imports cli/: the command line is built on the library, not the other way round.',
      from: { path: inFolders(['harness', 'netns']) },
      to: { path: CLI },
    },
    {
      name: 'source-never-imports-test-code',
      severity: 'error',
      comment: 'Nothing in harness/, netns/, cli/ or scenarios/ imports tests/, bench/ or fixtures/ source.',
      from: { path: inFolders(['harness', 'netns', 'cli', 'scenarios']) },
      to: { path: TEST_CODE },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No module cycles (type-only imports included): a cycle has no order to load, test or read it in. ' +
        'One is the wire format itself: a DHCPv6 Relay-Message option carries a whole message (RFC 8415 §21.10), ' +
        'so the option codec (dhcpv6-options.ts) calls back into the message codec (dhcpv6.ts) and nothing else.',
      from: {},
      to: { circular: true, viaOnly: { pathNot: '^harness/packet/dhcpv6(-options)?[.]ts$' } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves: an import that does not resolve would slip past the layer rules.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: ['(^|/)(node_modules|artifacts)/', '^native/[^/]+/build/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve packages the way Node does (the `exports` map, ESM first), so subpath imports such
    // as 'dependency-cruiser/config-utl/extract-ts-config' resolve instead of tripping not-to-unresolvable.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
