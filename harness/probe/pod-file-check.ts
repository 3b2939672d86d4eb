/** Checking a pod file as `v6pod validate` does, for scenarios about what a pod may be. */
import { parsePodFile, PodFileError } from '../pod/pod-file.ts';

/** The errors a pod file's text is refused with, one line each naming the file, line and field; [] when it is valid. */
export function podFileErrors(text: string, file: string): readonly string[] {
  try {
    parsePodFile(text, file);
    return [];
  } catch (err) {
    if (err instanceof PodFileError) return err.errors;
    throw err;
  }
}
