/** For the pod file's tests: the error lines a load produces (fails the test when it loads). */
import { expect } from 'chai';
import { PodFileError, type Pod } from '../pod-file.ts';

export function errorsOf(load: () => Pod): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof PodFileError) return err.errors;
    throw err;
  }
  expect.fail('expected a PodFileError');
}
