import { randomBytes } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import { newMasterKeys, scryptDerivations, unwrapKeys, wrapKeys } from "./keys.js";

describe("unwrapKeys", () => {
  const userKey = randomBytes(32);

  it("opens a slot with its key and refuses another key", async () => {
    const keys = newMasterKeys();
    const slot = await wrapKeys(keys, userKey, "repo-1");
    const opened = await unwrapKeys(slot, userKey, "repo-1");
    expect(opened?.dataKey.equals(keys.dataKey)).toBe(true);
    expect(opened?.idKey.equals(keys.idKey)).toBe(true);
    expect(await unwrapKeys(slot, randomBytes(32), "repo-1")).toBeUndefined();
    // The slot is bound to its repository.
    expect(await unwrapKeys(slot, userKey, "repo-2")).toBeUndefined();
  });

  it("answers a slot it has opened with the same key from memory, without deriving the key again", async () => {
    const slot = await wrapKeys(newMasterKeys(), userKey, "repo-3");
    const first = await unwrapKeys(slot, userKey, "repo-3");
    // The very object kept from the first unwrap: a second derivation would make new buffers.
    expect(await unwrapKeys(slot, userKey, "repo-3")).toBe(first);
  });

  it("shares one derivation between callers that ask at once", async () => {
    const slot = await wrapKeys(newMasterKeys(), userKey, "repo-5");
    const [a, b] = await Promise.all([unwrapKeys(slot, userKey, "repo-5"), unwrapKeys(slot, userKey, "repo-5")]);
    expect(a).toBeDefined();
    expect(b).toBe(a);
  });

  it("derives again for another slot of the same keys, and never remembers a key that failed", async () => {
    const keys = newMasterKeys();
    const slotA = await wrapKeys(keys, userKey, "repo-4");
    const slotB = await wrapKeys(keys, userKey, "repo-4");
    const a = await unwrapKeys(slotA, userKey, "repo-4");
    const b = await unwrapKeys(slotB, userKey, "repo-4");
    expect(b).not.toBe(a);
    expect(b?.dataKey.equals(keys.dataKey)).toBe(true);
    const wrong = randomBytes(32);
    expect(await unwrapKeys(slotA, wrong, "repo-4")).toBeUndefined();
    expect(await unwrapKeys(slotA, wrong, "repo-4")).toBeUndefined();
  });

  it("derives one key at a time when several vaults are opened at once (each derivation holds 32 MiB)", async () => {
    const slots = await Promise.all(["repo-6", "repo-7", "repo-8"].map(async (repo) => ({ repo, slot: await wrapKeys(newMasterKeys(), userKey, repo) })));
    let most = 0;
    const state = { done: false };
    const opened = Promise.all(slots.map(({ repo, slot }) => unwrapKeys(slot, userKey, repo))).finally(() => { state.done = true; });
    while (!state.done) {
      most = Math.max(most, scryptDerivations().running);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await opened).every((keys) => keys !== undefined)).toBe(true);
    expect(most).toBe(1);
    expect(scryptDerivations().running).toBe(0);
  });
});
