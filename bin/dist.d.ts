// Types of bin/dist.js for the TypeScript that imports it (benches).
export declare const REPO: string;
export declare const SOURCE_DIRS: string[];
export declare function sourceFiles(repo?: string): string[];
export declare function sourceKey(repo?: string): string;
export declare function currentBuild(repo?: string): { dir: string; complete: boolean; lock: string };
export declare function freshBuild(repo?: string): string | undefined;
/** Builds the current sources into dist/<key>/ (nothing to do when built already); returns the dir. */
export declare function build(repo?: string): Promise<string>;
