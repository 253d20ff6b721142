#!/usr/bin/env node
// The npm registry this project is built against serves only the linux-x64
// builds of napi-rs packages (the others answer 404), so `npm install` leaves
// their other platforms' optional packages out of package-lock.json, and
// `npm ci` then refuses the lock as out of sync. This adds those entries,
// marked optional with their os/cpu/libc, which npm skips on other platforms
// without fetching them. Run it after any `npm install`; it is idempotent.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const platforms = {
  "android-arm64": ["android", "arm64"],
  "darwin-arm64": ["darwin", "arm64"],
  "darwin-x64": ["darwin", "x64"],
  "darwin-universal": ["darwin", null],
  "freebsd-x64": ["freebsd", "x64"],
  "linux-arm-gnueabihf": ["linux", "arm", "glibc"],
  "linux-arm64-gnu": ["linux", "arm64", "glibc"],
  "linux-arm64-musl": ["linux", "arm64", "musl"],
  "linux-ppc64-gnu": ["linux", "ppc64", "glibc"],
  "linux-s390x-gnu": ["linux", "s390x", "glibc"],
  "linux-x64-gnu": ["linux", "x64", "glibc"],
  "linux-x64-musl": ["linux", "x64", "musl"],
  "win32-arm64-msvc": ["win32", "arm64"],
  "win32-ia32-msvc": ["win32", "ia32"],
  "win32-x64-msvc": ["win32", "x64"],
};
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const depKey = `node_modules/${dep}`;
    if (lock.packages[depKey]) continue;
    const platform = Object.entries(platforms).find(([suffix]) => dep.endsWith(`-${suffix}`));
    if (!platform) {
      console.warn(`${key}: optional ${dep} is missing and is not a known platform package`);
      continue;
    }
    const [os, cpu, libc] = platform[1];
    lock.packages[depKey] = {
      version,
      ...(cpu ? { cpu: [cpu] } : {}),
      license: entry.license ?? "MIT",
      optional: true,
      os: [os],
      ...(libc ? { libc: [libc] } : {}),
    };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entries`);
