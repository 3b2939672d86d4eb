/** The golden-packet checks on a capture made now (root: fixtures/golden/capture.sh builds namespaces), so the daemons installed here are held to them too. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenSuite } from '../../harness/packet/testing/golden-suite.ts';

const CAPTURE = new URL('../../fixtures/golden/capture.sh', import.meta.url).pathname;

goldenSuite('fresh capture from the installed daemons (fixtures/golden/capture.sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'v6pod-golden-'));
  execFileSync('bash', [CAPTURE, dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  return join(dir, 'link.pcap');
});
