import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parsePodFile, loadPodFile, DEFAULT_POD_FILE } from '../pod/pod-file.ts';
import { CONFIG_STORE_MAX_INSTANCES, storeAdvice } from './store-advice.ts';

/** A pod of `n` instances on two hypervisors, with the given backend. */
function pod(n: number, backend?: 'config' | 'postgresql') {
  const half = Math.ceil(n / 2);
  const hv = (h: number, count: number) => `  - name: hv${h}\n    instances:\n      - { name: ${h === 1 ? 'a' : 'b'}, count: ${count} }`;
  const kea = backend ? `kea:\n  backend: ${backend}\n` : '';
  return parsePodFile(
    `name: big\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\n${kea}hypervisors:\n${hv(1, half)}\n${hv(2, n - half)}\n`,
    'big.yaml',
  );
}

describe('control/store-advice', () => {
  it('says nothing up to the threshold with the config store, advises PostgreSQL past it, naming the size', () => {
    expect(storeAdvice(pod(CONFIG_STORE_MAX_INSTANCES))).to.equal(undefined);
    expect(storeAdvice(pod(CONFIG_STORE_MAX_INSTANCES, 'config'))).to.equal(undefined);
    const advice = storeAdvice(pod(CONFIG_STORE_MAX_INSTANCES + 1));
    expect(advice).to.be.a('string');
    expect(advice).to.match(/^advice: pod big has 1001 instances with kea\.backend config/);
    expect(advice).to.include('set kea.backend: postgresql');
    expect(advice!.split('\n')).to.have.length(1);
  });

  it('never advises a pod on PostgreSQL, however large', () => {
    expect(storeAdvice(pod(5000, 'postgresql'))).to.equal(undefined);
  });

  it('says nothing for the pods v6pod ships (the default pod, the 1,000-instance scale pod)', () => {
    expect(storeAdvice(loadPodFile(DEFAULT_POD_FILE))).to.equal(undefined);
    const scale = new URL('../../fixtures/pods/scale-1000.yaml', import.meta.url);
    expect(storeAdvice(parsePodFile(readFileSync(scale, 'utf8'), 'scale-1000.yaml'))).to.equal(undefined);
  });
});
