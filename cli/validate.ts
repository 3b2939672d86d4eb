/** `v6pod validate FILE`: checks a pod file and prints every problem, one line each (exit 2), or a summary. */
import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a pod file: shape, prefixes, names, MACs; print every problem')
    .argument('<file>', 'pod file (YAML)')
    .action(async (file: string) => {
      const { loadPodFile, PodFileError } = await import('../harness/pod/pod-file.ts');
      try {
        const pod = loadPodFile(file);
        const all = pod.hypervisors.flatMap((h) => h.instances);
        const synthetic = all.filter((i) => i.kind === 'synthetic').length;
        process.stdout.write(`${file}: ok (${pod.hypervisors.length} hypervisors, ${all.length} instances${synthetic ? `, ${synthetic} synthetic` : ''})\n`);
      } catch (err) {
        if (!(err instanceof PodFileError)) throw err;
        for (const line of err.errors) process.stderr.write(`${line}\n`);
        process.exitCode = 2;
      }
    });
}
