/**
 * Which reservation store suits a pod of a given size. The config store re-renders, re-checks
 * (`config-test`) and reloads every reservation in Kea on each deploy and destroy, so its cost per
 * deploy grows with the pod; the PostgreSQL store's does not (it allocates and writes one
 * reservation's rows). `npm run bench -- deploy` measured where they cross (docs/facts.md): about
 * 1,000 instances. `v6pod up` prints this advice for a pod file past that size.
 */
import type { Pod } from '../pod/pod-file.ts';

/** Up to this many instances the config store deploys about as fast as PostgreSQL; past it, use PostgreSQL. */
export const CONFIG_STORE_MAX_INSTANCES = 1000;

/** One line of advice when `pod` keeps its reservations in Kea's config and has more instances than that; else undefined. */
export function storeAdvice(pod: Pod): string | undefined {
  if (pod.kea.backend !== 'config') return undefined;
  const instances = pod.hypervisors.reduce((n, h) => n + h.instances.length, 0);
  if (instances <= CONFIG_STORE_MAX_INSTANCES) return undefined;
  return (
    `advice: pod ${pod.name} has ${instances} instances with kea.backend config, whose every deploy and destroy re-checks and ` +
    `reloads all their reservations in Kea (seconds at 10,000); above ${CONFIG_STORE_MAX_INSTANCES} instances set kea.backend: postgresql ` +
    `(README.md, "Which reservation store")`
  );
}
