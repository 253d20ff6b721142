import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Writes generated files, or with `check` only compares them with what is
 * checked in and fails the process when any differs. Every generator
 * (operator/src/api/generate.ts, cdk8s/generate.ts) ends here, so
 * `npm run check:generated` means the same thing for all of them: the
 * committed files are exactly what the sources produce.
 *
 * @param files path relative to `root` → content
 * @param what  how the files are named in messages ("Generated files", "Generated cdk8s files")
 */
export async function writeOrCheck(files: ReadonlyMap<string, string>, root: string, what: string, check: boolean): Promise<void> {
  const stale: string[] = [];
  for (const [path, content] of files) {
    const full = join(root, path);
    if (check) {
      const current = await readFile(full, "utf8").catch(() => undefined);
      if (current !== content) stale.push(path);
    } else {
      await mkdir(join(full, ".."), { recursive: true });
      await writeFile(full, content);
    }
  }
  if (stale.length > 0) {
    console.error(`${what} are stale; run \`npm run generate\` and commit:\n  ${stale.join("\n  ")}`);
    process.exitCode = 1;
  } else {
    console.log(check ? `${what} are up to date (${files.size})` : `Wrote ${files.size} files`);
  }
}
