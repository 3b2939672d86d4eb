/**
 * `up` and `teardownRun` as a bench runs them: compiled, from the build in dist/ (bin/dist.js), as
 * `v6pod up` runs them, so the daemons they spawn (relays, synthetic hosts) start compiled too,
 * where the sources would start each through tsx (about 0.5–1 s of CPU apiece on 2 cores).
 * V6POD_BENCH_SOURCES=1 measures the TypeScript sources instead; `form` says which ran.
 */
import { build } from '../bin/dist.js';

type Realize = typeof import('../netns/realize.ts');
type Teardown = typeof import('../netns/teardown.ts');

export async function podLifecycle(): Promise<{ form: 'compiled' | 'sources'; up: Realize['up']; teardownRun: Teardown['teardownRun'] }> {
  if (process.env.V6POD_BENCH_SOURCES === '1') {
    const [{ up }, { teardownRun }] = await Promise.all([import('../netns/realize.ts'), import('../netns/teardown.ts')]);
    return { form: 'sources', up, teardownRun };
  }
  const dir = await build();
  const [{ up }, { teardownRun }] = (await Promise.all([import(`${dir}/netns/realize.js`), import(`${dir}/netns/teardown.js`)])) as [Realize, Teardown];
  return { form: 'compiled', up, teardownRun };
}
