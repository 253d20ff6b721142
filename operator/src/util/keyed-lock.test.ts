import { describe, expect, it } from "@jest/globals";
import { KeyedLock } from "./keyed-lock.js";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("KeyedLock", () => {
  it("runs sections under one key one at a time, in call order", async () => {
    const lock = new KeyedLock();
    const trace: string[] = [];
    const section = (name: string) => lock.run("gw", async () => {
      trace.push(`${name}:start`);
      await tick();
      trace.push(`${name}:end`);
      return name;
    });
    await expect(Promise.all([section("a"), section("b"), section("c")])).resolves.toEqual(["a", "b", "c"]);
    expect(trace).toEqual(["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
    expect(lock.size).toBe(0);
  });

  it("lets different keys run at the same time", async () => {
    const lock = new KeyedLock();
    const trace: string[] = [];
    const section = (key: string) => lock.run(key, async () => {
      trace.push(`${key}:start`);
      await tick();
      trace.push(`${key}:end`);
    });
    await Promise.all([section("x"), section("y")]);
    expect(trace).toEqual(["x:start", "y:start", "x:end", "y:end"]);
  });

  it("releases the key when a section throws", async () => {
    const lock = new KeyedLock();
    const failing = lock.run("gw", async () => {
      await tick();
      throw new Error("create failed");
    });
    const next = lock.run("gw", () => Promise.resolve("ran"));
    await expect(failing).rejects.toThrow("create failed");
    await expect(next).resolves.toBe("ran");
    expect(lock.size).toBe(0);
  });
});
